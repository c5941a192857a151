# Channels (userbots/): Telegram accounts and VK — status details, files that did not arrive, the Telegram login.

## A channel's status detail (salesop channel list, the Mini App): what happened and what to do.
channel-vk_token_revoked = VK отклонил токен ({ $error }). Подключите канал заново: salesop channel add …
channel-vk_captcha = VK требует капчу для этого токена. Приём сообщений продолжается, повтор через { $seconds } с.
channel-vk_flood = VK ограничил частоту запросов (код { $code }). Ждём { $seconds } с и продолжаем.
channel-vk_error = Ошибка VK API: { $error }. Повтор через { $seconds } с.
channel-tg_flood_wait = Telegram попросил подождать { $seconds } с (FloodWait) — до { $until }. Работа продолжится сама.
channel-tg_session_revoked = Сессия Telegram больше не действует. Подключите аккаунт заново: /connect_telegram
channel-tg_connected = Подключено: { $title }

## Why a customer's file or conversation did not arrive.
channel-attachment_unknown = неизвестный тип вложения: { $kind } — откройте сообщение во VK
channel-attachment_too_large = файл { $size_mb } МБ больше лимита Telegram ({ $limit_mb } МБ) — откройте его во VK
channel-attachment_unknown_tg = неизвестный тип вложения: { $kind } — откройте сообщение в Telegram-аккаунте
channel-attachment_too_large_tg = файл { $size_mb } МБ больше лимита бота ({ $limit_mb } МБ) — откройте его в Telegram-аккаунте
channel-attachment_unreadable = вложение { $kind } не удалось разобрать: { $error }
channel-attachment_over_limit = файл больше лимита Telegram ({ $limit_mb } МБ) — откройте его во VK
channel-attachment_over_limit_tg = файл больше лимита бота ({ $limit_mb } МБ) — откройте его в Telegram-аккаунте
channel-attachment_download_failed = файл не скачался ({ $reason }) — откройте его во VK
channel-attachment_download_failed_tg = файл не скачался ({ $reason }) — откройте его в Telegram-аккаунте
channel-download_timeout = нет ответа за { $seconds } с
channel-download_http_status = сервер ответил { $status }
channel-download_network = ошибка сети
channel-download_web_page = вместо файла пришла веб-страница
channel-download_empty = пустой файл
channel-download_unavailable = файл недоступен
channel-download_store_failed = не удалось сохранить файл
channel-download_error = ошибка { $error }
channel-import_conversation_failed = диалог { $peer } не загружен: { $error }

## Connecting a Telegram account through the bot (/connect_telegram): the login flow's answers.
channel-login_ask_phone = Отправьте номер телефона аккаунта Telegram в международном формате, например +79991234567.
channel-login_code_sent = Код отправлен в Telegram на { $phone }. Пришлите его сюда (можно с пробелами: 1 2 3 4 5).
channel-login_ask_password = На аккаунте включена двухэтапная проверка. Пришлите облачный пароль.{ $hint }
channel-login_password_hint = { " " }Подсказка: { $hint }
channel-login_qr = Откройте Telegram → Настройки → Устройства → Подключить устройство и отсканируйте QR-код. Код действует до { $expires }.
channel-login_done = Аккаунт { $title } подключён. Диалоги начнут поступать сразу.
channel-login_phone_invalid = Неверный номер телефона. Проверьте и отправьте ещё раз.
channel-login_phone_banned = Этот номер заблокирован в Telegram.
channel-login_code_invalid = Неверный код. Попробуйте ещё раз ({ $left ->
        [one] осталась { $left } попытка
        [few] осталось { $left } попытки
       *[many] осталось { $left } попыток
    }).
channel-login_code_expired = Код истёк. Мы отправили новый — пришлите его.
channel-login_password_invalid = Неверный пароль. Попробуйте ещё раз ({ $left ->
        [one] осталась { $left } попытка
        [few] осталось { $left } попытки
       *[many] осталось { $left } попыток
    }).
channel-login_flood = Telegram просит подождать { $seconds } с перед следующей попыткой.
channel-login_too_many_attempts = Слишком много неудачных попыток. Начните заново: /connect_telegram
channel-login_qr_expired = QR-код истёк — вот новый.
channel-login_not_expected = Сейчас ожидается другое: { $expected }.
channel-login_cancelled = Подключение отменено.
channel-connect_no_rights = Подключать аккаунты Telegram могут владелец, администратор или техспециалист компании.
channel-connect_choose_tenant = Вы работаете в нескольких компаниях. Укажите, в какой: /connect_telegram <код> ({ $slugs }). Для входа по QR-коду добавьте qr.
channel-connect_unknown_tenant = Нет компании с кодом «{ $slug }» среди ваших: { $slugs }.
channel-login_no_api_credentials = Не настроены SALESOP_TELEGRAM_API_ID и SALESOP_TELEGRAM_API_HASH (my.telegram.org).
# What the login flow waits for (channel-login_not_expected).
channel-login_expected-phone = телефон
channel-login_expected-code = код
channel-login_expected-password = пароль
channel-login_expected-qr = сканирование QR-кода
