"""Every text the userbots show to people (channel status, attachment notes, login answers): Russian first, English
second. One place, so a translator finds them all and code never carries scattered literals."""

from __future__ import annotations

RU = "ru"
EN = "en"

_TEXTS: dict[str, dict[str, str]] = {
    # channel status details
    "vk_token_revoked": {
        RU: "VK отклонил токен ({error}). Подключите канал заново: salesop channel add …",
        EN: "VK rejected the token ({error}). Connect the channel again: salesop channel add …",
    },
    "vk_captcha": {
        RU: "VK требует капчу для этого токена. Приём сообщений продолжается, повтор через {seconds} с.",
        EN: "VK asks for a captcha for this token. Retrying in {seconds} s.",
    },
    "vk_flood": {
        RU: "VK ограничил частоту запросов (код {code}). Ждём {seconds} с и продолжаем.",
        EN: "VK rate-limited the token (code {code}). Waiting {seconds} s, then continuing.",
    },
    "vk_error": {
        RU: "Ошибка VK API: {error}. Повтор через {seconds} с.",
        EN: "VK API error: {error}. Retrying in {seconds} s.",
    },
    "vk_connected": {RU: "Подключено: {title}", EN: "Connected: {title}"},
    "vk_gap_filled": {
        RU: "Связь с VK восстановлена, пропущенные сообщения догружены ({count}).",
        EN: "VK connection restored, {count} missed messages fetched.",
    },
    "tg_flood_wait": {
        RU: "Telegram попросил подождать {seconds} с (FloodWait) — до {until}. Работа продолжится сама.",
        EN: "Telegram asked to wait {seconds} s (FloodWait), until {until}. Work resumes by itself.",
    },
    "tg_session_revoked": {
        RU: "Сессия Telegram больше не действует. Подключите аккаунт заново: /connect_telegram",
        EN: "The Telegram session is no longer valid. Connect the account again: /connect_telegram",
    },
    "tg_connected": {RU: "Подключено: {title}", EN: "Connected: {title}"},
    # attachments and messages
    "attachment_unknown": {
        RU: "неизвестный тип вложения: {kind} — откройте сообщение во VK",
        EN: "unknown attachment type: {kind} — open the message in VK",
    },
    "attachment_too_large": {
        RU: "файл {size_mb} МБ больше лимита Telegram ({limit_mb} МБ) — откройте его во VK",
        EN: "file of {size_mb} MB is over Telegram's {limit_mb} MB limit — open it in VK",
    },
    "attachment_unknown_tg": {
        RU: "неизвестный тип вложения: {kind} — откройте сообщение в Telegram-аккаунте",
        EN: "unknown attachment type: {kind} — open the message in the Telegram account",
    },
    "attachment_too_large_tg": {
        RU: "файл {size_mb} МБ больше лимита бота ({limit_mb} МБ) — откройте его в Telegram-аккаунте",
        EN: "file of {size_mb} MB is over the bot's {limit_mb} MB limit — open it in the Telegram account",
    },
    "attachment_unreadable": {
        RU: "вложение {kind} не удалось разобрать: {error}",
        EN: "attachment {kind} could not be read: {error}",
    },
    # a customer's file fetched live into the media store failed: the message is kept, the manager sees why
    "attachment_over_limit": {
        RU: "файл больше лимита Telegram ({limit_mb} МБ) — откройте его во VK",
        EN: "the file is over Telegram's {limit_mb} MB limit — open it in VK",
    },
    "attachment_over_limit_tg": {
        RU: "файл больше лимита бота ({limit_mb} МБ) — откройте его в Telegram-аккаунте",
        EN: "the file is over the bot's {limit_mb} MB limit — open it in the Telegram account",
    },
    "attachment_download_failed": {
        RU: "файл не скачался ({reason}) — откройте его во VK",
        EN: "the file could not be downloaded ({reason}) — open it in VK",
    },
    "attachment_download_failed_tg": {
        RU: "файл не скачался ({reason}) — откройте его в Telegram-аккаунте",
        EN: "the file could not be downloaded ({reason}) — open it in the Telegram account",
    },
    "download_timeout": {RU: "нет ответа за {seconds} с", EN: "no answer in {seconds} s"},
    "download_http_status": {RU: "сервер ответил {status}", EN: "the server answered {status}"},
    "download_network": {RU: "ошибка сети", EN: "network error"},
    "download_web_page": {RU: "вместо файла пришла веб-страница", EN: "a web page came instead of the file"},
    "download_empty": {RU: "пустой файл", EN: "empty file"},
    "download_unavailable": {RU: "файл недоступен", EN: "the file is unavailable"},
    "download_store_failed": {RU: "не удалось сохранить файл", EN: "the file could not be saved"},
    "download_error": {RU: "ошибка {error}", EN: "error {error}"},
    "import_conversation_failed": {
        RU: "диалог {peer} не загружен: {error}",
        EN: "conversation {peer} was not imported: {error}",
    },
    # Telegram login flow (the bot shows these as they are)
    "login_ask_phone": {
        RU: "Отправьте номер телефона аккаунта Telegram в международном формате, например +79991234567.",
        EN: "Send the Telegram account's phone number in international format, e.g. +79991234567.",
    },
    "login_code_sent": {
        RU: "Код отправлен в Telegram на {phone}. Пришлите его сюда (можно с пробелами: 1 2 3 4 5).",
        EN: "A login code was sent to {phone} in Telegram. Send it here (spaces are fine: 1 2 3 4 5).",
    },
    "login_ask_password": {
        RU: "На аккаунте включена двухэтапная проверка. Пришлите облачный пароль.{hint}",
        EN: "Two-step verification is on. Send the cloud password.{hint}",
    },
    "login_password_hint": {RU: " Подсказка: {hint}", EN: " Hint: {hint}"},
    "login_qr": {
        RU: "Откройте Telegram → Настройки → Устройства → Подключить устройство и отсканируйте QR-код. "
            "Код действует до {expires}.",
        EN: "Open Telegram → Settings → Devices → Link Desktop Device and scan the QR code. Valid until {expires}.",
    },
    "login_done": {RU: "Аккаунт {title} подключён. Диалоги начнут поступать сразу.",
                   EN: "Account {title} connected. Dialogs start arriving now."},
    "login_phone_invalid": {RU: "Неверный номер телефона. Проверьте и отправьте ещё раз.",
                            EN: "Invalid phone number. Check it and send again."},
    "login_phone_banned": {RU: "Этот номер заблокирован в Telegram.", EN: "This number is banned by Telegram."},
    "login_code_invalid": {RU: "Неверный код. Попробуйте ещё раз (осталось попыток: {left}).",
                           EN: "Wrong code. Try again ({left} attempts left)."},
    "login_code_expired": {RU: "Код истёк. Мы отправили новый — пришлите его.",
                           EN: "The code expired. A new one was sent — send it here."},
    "login_password_invalid": {RU: "Неверный пароль. Попробуйте ещё раз (осталось попыток: {left}).",
                               EN: "Wrong password. Try again ({left} attempts left)."},
    "login_flood": {RU: "Telegram просит подождать {seconds} с перед следующей попыткой.",
                    EN: "Telegram asks to wait {seconds} s before the next attempt."},
    "login_too_many_attempts": {RU: "Слишком много неудачных попыток. Начните заново: /connect_telegram",
                                EN: "Too many failed attempts. Start again: /connect_telegram"},
    "login_qr_expired": {RU: "QR-код истёк — вот новый.", EN: "The QR code expired — here is a new one."},
    "login_not_expected": {RU: "Сейчас ожидается другое: {expected}.", EN: "Something else is expected now: {expected}."},
    "login_cancelled": {RU: "Подключение отменено.", EN: "Connection cancelled."},
    "connect_no_rights": {
        RU: "Подключать аккаунты Telegram могут владелец, администратор или техспециалист компании.",
        EN: "Only an owner, an admin or technical staff can connect Telegram accounts.",
    },
    "connect_choose_tenant": {
        RU: "Вы работаете в нескольких компаниях. Укажите, в какой: /connect_telegram <код> ({slugs}). "
            "Для входа по QR-коду добавьте qr.",
        EN: "You work for several companies. Say which one: /connect_telegram <code> ({slugs}). Add qr for a QR login.",
    },
    "connect_unknown_tenant": {RU: "Нет компании с кодом «{slug}» среди ваших: {slugs}.",
                               EN: "No company '{slug}' among yours: {slugs}."},
    "login_no_api_credentials": {
        RU: "Не настроены SALESOP_TELEGRAM_API_ID и SALESOP_TELEGRAM_API_HASH (my.telegram.org).",
        EN: "SALESOP_TELEGRAM_API_ID and SALESOP_TELEGRAM_API_HASH are not set (my.telegram.org).",
    },
}


def t(key: str, lang: str = RU, **values: object) -> str:
    """The text for `key` in `lang` (Russian when the language is missing), with `values` filled in."""
    variants = _TEXTS[key]
    return variants.get(lang, variants[RU]).format(**values)
