# Telegram Business: аккаунт магазина, подключённый к боту менеджеров (bot/handlers/business.py,
# core/services/business.py, userbots/gateway.py).

business-connected = ✅ Telegram Business: аккаунт { $account } подключён к «{ $tenant }» (канал { $channel }). Сообщения клиентов этому аккаунту теперь приходят в группу менеджеров, а ответы менеджеров уходят от его имени. Прежнюю историю Telegram боту не отдаёт: приходят только новые сообщения.
business-updated = Telegram Business: подключение { $account } к «{ $tenant }» обновлено (канал { $channel }).
business-rights-no_reply = ⚠️ Боту не разрешено отвечать: включите «Отвечать на сообщения» в Настройках → Telegram для бизнеса → Чат-боты, иначе ответы менеджеров не уйдут.
business-rights-no_read = ℹ️ Разрешите и «Читать сообщения», чтобы клиенты видели, что их сообщения прочитаны, когда менеджер отвечает.
business-disconnected = Telegram Business: аккаунт { $account } отключил бота. Через него ничего не отправляется, пока бот не будет подключён снова (Настройки → Telegram для бизнеса → Чат-боты).
business-not_staff = Telegram Business: { $account } подключил бота, но вы не владелец и не администратор ни одного бизнеса здесь, поэтому ничего не подключено. Примите приглашение от владельца бизнеса и подключите бота снова.
business-choose = Telegram Business: к какому бизнесу относится аккаунт { $account }?
business-error-pending_unknown = Этот вопрос устарел: подключите бота снова.
business-error-not_yours = Выбрать может только бизнес-аккаунт, который подключил бота.
business-error-already = Этот аккаунт уже подключён к другому бизнесу.
business-error-done = Этот аккаунт уже подключён к этому бизнесу.
business-error-not_admin = Вы не владелец и не администратор этого бизнеса.
business-channel-detail_no_history = Telegram Business: истории у бота нет, только сообщения с момента подключения (историю может загрузить канал Telegram-аккаунта).
business-channel-detail_disabled = Telegram Business: владелец отключил бота; ничего не отправляется, пока бот не будет подключён снова (Настройки → Telegram для бизнеса → Чат-боты).
business-channel-detail_no_reply = Telegram Business: подключение не разрешает отвечать («Отвечать на сообщения» в Telegram для бизнеса → Чат-боты); истории у бота тоже нет.
business-channel-detail_history_userbot = Telegram Business: истории у бота нет, но тот же аккаунт подключён и как юзербот (канал { $channel }) — его загрузка истории наполняет общие диалоги; ответы идут через бота, если клиент писал в последние 24 часа, иначе через юзербот.
business-channel-detail_no_reply_userbot = Telegram Business: подключение не разрешает отвечать («Отвечать на сообщения» в Telegram для бизнеса → Чат-боты), поэтому ответы идут через юзербот того же аккаунта (канал { $channel }), а его загрузка истории наполняет общие диалоги.
business-attachment-animation = GIF-анимация: откройте её в приложении Telegram

# Тексты семейств, которые другие разделы подбирают по виду канала или коду ошибки (status.kind.*, card.channel.*,
# reason.*), для вида telegram_business.
status-kind-telegram_business = Telegram Business
card-channel-telegram_business = Telegram Business
reason-business_window = Telegram разрешает бизнес-боту отвечать только в течение 24 часов после последнего сообщения клиента; ответьте из приложения Telegram
reason-business_window_userbot = Telegram разрешает бизнес-боту отвечать только в течение 24 часов после последнего сообщения клиента; ответьте из приложения Telegram или через подключённый канал Telegram-аккаунта
reason-business_no_reply = подключение Telegram Business не разрешает отвечать (Настройки → Telegram для бизнеса → Чат-боты)
reason-business_disconnected = подключение Telegram Business выключено: владелец отключил бота
# the reply card of an account connected both ways: which way the reply went
reply-via-telegram_business = доставлено через Telegram Business
reply-via-telegram_account = доставлено через Telegram-аккаунт (юзербот)
# /status: откуда история канала Telegram Business (core.services.readiness.History)
status-channel-history-none = истории нет: Telegram даёт бизнес-боту только новые сообщения
status-channel-history-userbot = история — из юзербота того же аккаунта (канал { $channel })
