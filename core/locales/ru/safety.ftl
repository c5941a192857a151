# Self-check and handoff: why a drafted reply is held back, as the manager reads it on the card.

## The deterministic handoff detector (core/ai/handoff.py). $phrase quotes the customer.
safety-handoff-human = Клиент просит живого человека: «{ $phrase }»
safety-handoff-legal = Клиент говорит о суде, юристах или надзорных органах: «{ $phrase }»
safety-handoff-threat = Клиент угрожает или обвиняет магазин: «{ $phrase }»
safety-handoff-refund = Клиент требует вернуть деньги: «{ $phrase }»
safety-handoff-chargeback = Клиент хочет оспорить платёж через банк: «{ $phrase }»

## Claims the catalog or the knowledge base does not back (core/ai/selfcheck.py).
safety-check-price-product = цена «{ $figure }» ({ $value }) не совпадает с каталогом: «{ $product }» стоит { $price }
safety-check-price-unbacked = цена «{ $figure }» ({ $value }) не совпадает с каталогом
safety-check-discount-phrase = «{ $phrase }» — это скидка { $percent }%, больше допустимой { $limit }%
safety-check-discount-amount = скидка «{ $phrase }» — это { $percent }% от цены «{ $product }», больше допустимой { $limit }%
safety-check-discount-off = «{ $phrase }» — это скидка, а скидки в магазине выключены
safety-check-gift = ответ обещает «{ $phrase }», а в базе знаний такого нет
safety-check-term-differs = { $topic ->
    [delivery] срок доставки
    [warranty] срок гарантии
   *[return] срок возврата
} в ответе «{ $claim }», а в базе знаний «{ $known }»
safety-check-term-place = { $topic ->
    [delivery] срок доставки
    [warranty] срок гарантии
   *[return] срок возврата
} «{ $claim }» в базе знаний указан только для города { $place }
safety-check-term-unknown = { $topic ->
    [delivery] срок доставки
    [warranty] срок гарантии
   *[return] срок возврата
} «{ $claim }» не подтверждён найденными статьями базы знаний
safety-check-address = адреса «{ $address }» нет в найденных статьях базы знаний
safety-check-language-mixed = часть ответа на другом языке ({ $language }): «{ $sentence }»
