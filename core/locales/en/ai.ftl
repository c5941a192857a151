# The AI pipeline (core/ai/): why a draft goes out or waits (shown on the reply card), what the self-check found,
# the offline responder's phrases and the customer memory. Figures like { $confidence } arrive formatted ("0.85").

## Why the decision engine sent, held or escalated a draft (texts.reason).
ai-reason-force_handoff = The topic “{ $intent }” always goes to a person
ai-reason-low_confidence_escalate = Low confidence { $confidence } (escalation threshold { $t_escalate })
ai-reason-below_t_auto = Confidence { $confidence } is below the automatic sending threshold { $t_auto }
ai-reason-check_failed = Self-check failed: { $details }
ai-reason-global_off = Automatic sending is off for the whole system
ai-reason-tenant_off = Automatic sending is off in the shop's settings
ai-reason-dialog_mode = The dialog's AI mode is “{ $mode }”; automatic sending only in “auto” mode
ai-reason-intent_not_allowed = The topic “{ $intent }” is not on the automatic replies list
ai-reason-offline_not_allowed = Built without a language model (from the catalog and the knowledge base): needs a check
ai-reason-night_disabled = Out of hours: automatic replies are off at night
ai-reason-auto_send = Every check passed, confidence { $confidence } ≥ { $t_auto }: sent automatically
ai-reason-auto_send_night = Out of hours: AI replies automatically ({ $night_mode }), every check passed
ai-reason-ai_unavailable = The AI is unavailable: { $error }
ai-reason-model_needs_human = The model asks for a person: { $why }

## A dialog's AI mode, as the reasons name it.
ai-mode-off = off
ai-mode-learning = learning
ai-mode-semi_auto = semi-auto
ai-mode-auto = auto

## What a customer's message is about, as the reasons and the customer memory name it.
ai-intent-price = price
ai-intent-availability = availability
ai-intent-shipping = delivery
ai-intent-delivery_time = delivery time
ai-intent-warranty = warranty
ai-intent-payment = payment
ai-intent-order_status = order status
ai-intent-return = return
ai-intent-discount = discount
ai-intent-complaint = complaint
ai-intent-purchase = purchase
ai-intent-human_request = asks for a manager
ai-intent-greeting = greeting
ai-intent-other = other

## What the self-check found wrong with a draft (texts.check_failure).
ai-check-empty = empty reply
ai-check-too_short = the reply is too short
ai-check-too_long = the reply is longer than { $limit } characters ({ $length })
ai-check-template = a template placeholder is left in the reply: { $found }
ai-check-language = the reply's language ({ $reply }) differs from the customer's ({ $customer })
ai-check-price = the price { $figure } does not match the catalog
ai-check-stock = the stock { $figure } does not match the catalog
ai-check-in_stock_claim = “{ $product }” is out of stock, yet the reply says it is available
ai-check-discount_off = the reply promises a discount, but the shop has discounts turned off
ai-check-discount_over = a discount of { $percent }% is over the allowed { $limit }%
ai-check-forbidden_reply = a forbidden topic in the reply: “{ $topic }”
ai-check-forbidden_customer = the customer touches a forbidden topic “{ $topic }”

## The offline responder: a customer reads these. $address is the tenant's form of address (vy = polite,
## ty = casual: English has one "you", so ty reads more relaxed), $tone its tone (formal, friendly).
ai-offline-greeting = { $address ->
    [ty] { $tone ->
        [friendly] Hi! 😊 What can I do for you? Ask me about products, stock, delivery and payment.
       *[formal] Hi! How can I help? I can tell you about products, stock, delivery and payment.
    }
   *[vy] { $tone ->
        [friendly] Hello! 😊 How can I help? Ask me about products, stock, delivery and payment.
       *[formal] Hello! How can I help? I can tell you about products, stock, delivery and payment.
    }
}
ai-offline-price_line = “{ $name }” costs { $price }.
ai-offline-stock_line_in = In stock: { $stock } pcs.
ai-offline-stock_line_out = { $address ->
    [ty] It's out of stock right now — I can let you know when it's back.
   *[vy] It is out of stock right now — I can let you know when it is back.
}
ai-offline-stock_line_unknown = I will check availability and get back to you.
ai-offline-also = { $address ->
    [ty] We've also got: { $items }.
   *[vy] We also have: { $items }.
}
ai-offline-offer_order = { $tone ->
    [friendly] Shall we place an order? 🙂
   *[formal] Shall I place an order?
}
ai-offline-handoff = { $address ->
    [ty] { $tone ->
        [friendly] Passing your question to a manager — they'll reply soon 🙂
       *[formal] Passing your question to a manager, they'll reply shortly.
    }
   *[vy] { $tone ->
        [friendly] I am passing your question to a manager — they will reply soon 🙂
       *[formal] I am passing your question to a manager, they will reply shortly.
    }
}
ai-offline-not_found = { $tone ->
    [friendly] I'll check with a manager and get right back to you 🙂
   *[formal] I will check this with a manager and get back to you.
}
ai-offline-discount_none = { $address ->
    [ty] There's no discount on this one right now; the price is final.
   *[vy] There is no discount on this item right now; the price is final.
}
ai-offline-discount_manager = { $address ->
    [ty] A manager will tell you about discounts — passing your question on.
   *[vy] A manager will answer about discounts — I am passing your question on.
}
ai-offline-price_from = “{ $name }” costs from { $price }: { $items }.
ai-offline-variant_price = “{ $name }”, { $variant }: { $price }.
ai-offline-to_order = This item is available to order.
ai-offline-for_city = For { $city }:
ai-offline-order_status = { $address ->
    [ty] I'll check on your order and write back. What's the order number?
   *[vy] I will check on your order and write back. Could you tell me the order number, please?
}
ai-offline-rest_manager = { $address ->
    [ty] I'll check the rest with a manager and get back to you.
   *[vy] I will check the rest with a manager and get back to you.
}

## `salesop ask`: a question through the AI pipeline, nothing sent or stored.
ai-ask-help = ask the shop's AI a question as if a customer wrote it (nothing is sent or stored)
ai-ask-help-question = the customer's question
ai-ask-help-channel = the channel the customer would write from: telegram or vk
ai-ask-help-mode = the dialog's AI mode for the decision (auto by default: would the reply go out on its own)
ai-ask-reply = Reply: { $reply }
ai-ask-meta = Intent: { $intent } · confidence { $confidence } · decision: { $decision }
ai-ask-reasons = Why: { $reasons }
ai-ask-sources = Sources: { $sources }
ai-ask-no-sources = Sources: —

## A tenant's own intents (`salesop intents`).
ai-intents-bad-name = An intent name is 2–24 latin letters, digits or _, and not a built-in one: “{ $name }”
ai-intents-bad-words = An intent needs 1 to { $max } words
ai-intents-too-many = At most { $max } intents of your own
ai-intents-unknown = No intent “{ $name }” of your own
ai-intents-help = the shop's own intents: the words that tell them
ai-intents-help-set = define an intent: its name and comma-separated words
ai-intents-help-remove = remove an intent of your own
ai-intents-help-list = list your own intents
ai-intents-help-name = the intent's name (latin letters, digits, _)
ai-intents-help-words = comma-separated words and phrases
ai-intents-none = No intents of your own
ai-intents-line = { $name }: { $words }

## The customer memory: a summary managers read on the card.
ai-memory-asked_about = Asked about: { $topics }
ai-memory-interested_in = Interested in: { $products }
ai-memory-last_question = Last question: “{ $text }”
