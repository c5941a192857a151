# The AI pipeline (core/ai/): why a draft goes out or waits (shown on the reply card), what the self-check found,
# the offline responder's phrases and the customer memory. Figures like { $confidence } arrive formatted ("0.85").

## Why the decision engine sent, held or escalated a draft (texts.reason).
ai-reason-force_handoff = Тема «{ $intent }» всегда передаётся человеку
ai-reason-low_confidence_escalate = Низкая уверенность { $confidence } (порог эскалации { $t_escalate })
ai-reason-below_t_auto = Уверенность { $confidence } ниже порога автоотправки { $t_auto }
ai-reason-check_failed = Самопроверка не пройдена: { $details }
ai-reason-global_off = Автоотправка выключена для всей системы
ai-reason-tenant_off = Автоотправка выключена в настройках магазина
ai-reason-dialog_mode = Режим ИИ в диалоге: «{ $mode }», автоотправка только в режиме «авто»
ai-reason-intent_not_allowed = Тема «{ $intent }» не входит в список автоответов
ai-reason-offline_not_allowed = Ответ собран без языковой модели (по каталогу и базе знаний): нужна проверка
ai-reason-night_disabled = Нерабочее время: ночью автоответы выключены
ai-reason-auto_send = Все проверки пройдены, уверенность { $confidence } ≥ { $t_auto }: отправка автоматически
ai-reason-auto_send_night = Нерабочее время: автоответ ИИ ({ $night_mode }), все проверки пройдены
ai-reason-ai_unavailable = ИИ недоступен: { $error }
ai-reason-model_needs_human = Модель просит подключить человека: { $why }

## A dialog's AI mode, as the reasons name it.
ai-mode-off = выключен
ai-mode-learning = обучение
ai-mode-semi_auto = полуавто
ai-mode-auto = авто

## What a customer's message is about, as the reasons and the customer memory name it.
ai-intent-price = цена
ai-intent-availability = наличие
ai-intent-shipping = доставка
ai-intent-delivery_time = сроки доставки
ai-intent-warranty = гарантия
ai-intent-payment = оплата
ai-intent-order_status = статус заказа
ai-intent-return = возврат
ai-intent-discount = скидка
ai-intent-complaint = жалоба
ai-intent-purchase = покупка
ai-intent-human_request = просит менеджера
ai-intent-greeting = приветствие
ai-intent-other = другое

## What the self-check found wrong with a draft (texts.check_failure).
ai-check-empty = пустой ответ
ai-check-too_short = слишком короткий ответ
ai-check-too_long = ответ длиннее { $limit } символов ({ $length })
ai-check-template = в ответе остался шаблон: { $found }
ai-check-language = язык ответа ({ $reply }) не совпадает с языком клиента ({ $customer })
ai-check-price = цена { $figure } не совпадает с каталогом
ai-check-stock = остаток { $figure } не совпадает с каталогом
ai-check-in_stock_claim = «{ $product }» нет в наличии, а ответ говорит, что есть
ai-check-discount_off = ответ обещает скидку, а скидки в магазине выключены
ai-check-discount_over = скидка { $percent }% больше допустимой { $limit }%
ai-check-forbidden_reply = запрещённая тема в ответе: «{ $topic }»
ai-check-forbidden_customer = клиент затрагивает запрещённую тему «{ $topic }»

## The offline responder: a customer reads these. $address is the tenant's form of address (vy = «вы», ty = «ты»),
## $tone its tone (formal, friendly). Figures and names are copied from the catalog by the responder.
ai-offline-greeting = { $address ->
    [ty] { $tone ->
        [friendly] Привет! 😊 Чем помочь? Расскажу про товары, наличие, доставку и оплату.
       *[formal] Привет! Чем могу помочь? Подскажу по товарам, наличию, доставке и оплате.
    }
   *[vy] { $tone ->
        [friendly] Здравствуйте! 😊 Чем могу помочь? Расскажу про товары, наличие, доставку и оплату.
       *[formal] Здравствуйте! Чем могу помочь? Подскажу по товарам, наличию, доставке и оплате.
    }
}
ai-offline-price_line = «{ $name }» стоит { $price }.
ai-offline-stock_line_in = Сейчас в наличии: { $stock } шт.
ai-offline-stock_line_out = { $address ->
    [ty] Сейчас этого товара нет в наличии — могу написать, когда появится.
   *[vy] Сейчас этого товара нет в наличии — могу сообщить, когда появится.
}
ai-offline-stock_line_unknown = Наличие уточню и сразу напишу.
ai-offline-also = { $address ->
    [ty] Ещё есть: { $items }.
   *[vy] Также есть: { $items }.
}
ai-offline-offer_order = { $tone ->
    [friendly] Оформим заказ? 🙂
   *[formal] Оформить заказ?
}
ai-offline-handoff = { $address ->
    [ty] { $tone ->
        [friendly] Передаю твой вопрос менеджеру — он скоро ответит 🙂
       *[formal] Передаю твой вопрос менеджеру, он ответит в ближайшее время.
    }
   *[vy] { $tone ->
        [friendly] Передаю ваш вопрос менеджеру — он скоро ответит 🙂
       *[formal] Передаю ваш вопрос менеджеру, он ответит в ближайшее время.
    }
}
ai-offline-not_found = { $tone ->
    [friendly] Уточню у менеджера и сразу вернусь с ответом 🙂
   *[formal] Уточню этот вопрос у менеджера и вернусь с ответом.
}
ai-offline-discount_none = { $address ->
    [ty] Скидки на этот товар сейчас нет, цена окончательная.
   *[vy] Скидки на этот товар сейчас нет, цена указана окончательная.
}
ai-offline-discount_manager = { $address ->
    [ty] Про скидку подскажет менеджер — передаю ему твой вопрос.
   *[vy] Про скидку подскажет менеджер — передаю ему ваш вопрос.
}
ai-offline-price_from = «{ $name }» стоит от { $price }: { $items }.
ai-offline-variant_price = «{ $name }», { $variant }: { $price }.
ai-offline-to_order = Этот товар доступен под заказ.
ai-offline-for_city = Для города { $city }:
ai-offline-order_status = { $address ->
    [ty] Проверю, что с заказом, и напишу. Подскажи, пожалуйста, номер заказа.
   *[vy] Проверю, что с заказом, и напишу. Подскажите, пожалуйста, номер заказа.
}
ai-offline-rest_manager = { $address ->
    [ty] Остальное уточню у менеджера и вернусь с ответом.
   *[vy] Остальное уточню у менеджера и вернусь с ответом.
}

## `salesop ask`: a question through the AI pipeline, nothing sent or stored.
ai-ask-help = задать вопрос ИИ магазина, как будто его написал клиент (ничего не отправляется и не сохраняется)
ai-ask-help-question = вопрос клиента
ai-ask-help-channel = канал, откуда будто бы пишет клиент: telegram или vk
ai-ask-help-mode = режим ИИ диалога для решения (по умолчанию auto: ушёл бы ответ сам)
ai-ask-reply = Ответ: { $reply }
ai-ask-meta = Намерение: { $intent } · уверенность { $confidence } · решение: { $decision }
ai-ask-reasons = Почему: { $reasons }
ai-ask-sources = Источники: { $sources }
ai-ask-no-sources = Источники: —

## A tenant's own intents (`salesop intents`).
ai-intents-bad-name = Имя намерения — от 2 до 24 латинских букв, цифр или _, и не встроенное: «{ $name }»
ai-intents-bad-words = У намерения должно быть от 1 до { $max } слов
ai-intents-too-many = Не больше { $max } своих намерений
ai-intents-unknown = Нет своего намерения «{ $name }»
ai-intents-help = свои намерения магазина: слова, по которым их узнавать
ai-intents-help-set = задать намерение: имя и слова через запятую
ai-intents-help-remove = удалить своё намерение
ai-intents-help-list = показать свои намерения
ai-intents-help-name = имя намерения (латиница, цифры, _)
ai-intents-help-words = слова и фразы через запятую
ai-intents-none = Своих намерений нет
ai-intents-line = { $name }: { $words }

## The customer memory: a summary managers read on the card.
ai-memory-asked_about = Спрашивал(а) о: { $topics }
ai-memory-interested_in = Интересовался(ась) товарами: { $products }
ai-memory-last_question = Последний вопрос: «{ $text }»
