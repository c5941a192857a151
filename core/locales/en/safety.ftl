# Self-check and handoff: why a drafted reply is held back, as the manager reads it on the card.

## The deterministic handoff detector (core/ai/handoff.py). $phrase quotes the customer.
safety-handoff-human = The customer asks for a person: “{ $phrase }”
safety-handoff-legal = The customer mentions a court, lawyers or a regulator: “{ $phrase }”
safety-handoff-threat = The customer threatens or accuses the shop: “{ $phrase }”
safety-handoff-refund = The customer demands their money back: “{ $phrase }”
safety-handoff-chargeback = The customer wants to dispute the payment with their bank: “{ $phrase }”

## Claims the catalog or the knowledge base does not back (core/ai/selfcheck.py).
safety-check-price-product = the price “{ $figure }” ({ $value }) does not match the catalog: “{ $product }” costs { $price }
safety-check-price-unbacked = the price “{ $figure }” ({ $value }) does not match the catalog
safety-check-discount-phrase = “{ $phrase }” is a { $percent }% discount, above the allowed { $limit }%
safety-check-discount-amount = the discount “{ $phrase }” is { $percent }% of the price of “{ $product }”, above the allowed { $limit }%
safety-check-discount-off = “{ $phrase }” is a discount, and discounts are off for this shop
safety-check-gift = the reply promises “{ $phrase }”, and the knowledge base says nothing of it
safety-check-term-differs = { $topic ->
    [delivery] delivery time
    [warranty] warranty period
   *[return] return period
} in the reply is “{ $claim }”, the knowledge base says “{ $known }”
safety-check-term-place = { $topic ->
    [delivery] delivery time
    [warranty] warranty period
   *[return] return period
} “{ $claim }” is given in the knowledge base only for { $place }
safety-check-term-unknown = { $topic ->
    [delivery] delivery time
    [warranty] warranty period
   *[return] return period
} “{ $claim }” is not backed by the knowledge base articles found
safety-check-address = the address “{ $address }” is not in the knowledge base articles found
safety-check-language-mixed = part of the reply is in another language ({ $language }): “{ $sentence }”
