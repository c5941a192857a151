# Страница трафика: пригласительные ссылки кампаний в каналы и группы Telegram (webapp/api/traffic.py, pages/traffic.js).
miniapp-traffic-invite_links = Ссылки-приглашения в канал или группу
miniapp-traffic-invite_help = Ссылка с именем кампании, её создаёт бот: каждый вступивший по ней учитывается, а когда он напишет магазину, его диалог засчитается кампании. Добавьте бота в канал или группу администратором с правом приглашать пользователей; вы тоже должны быть там администратором.
miniapp-traffic-invite_chat = Канал или группа (@имя или id)
miniapp-traffic-invite_requests = Вступление по заявке (бот одобряет)
miniapp-traffic-invite_create = Создать ссылку-приглашение
miniapp-traffic-invite_figures = вступили: { $joins } · ждут одобрения: { $requests }
miniapp-traffic-invite_revoke = Отозвать
miniapp-traffic-invite_revoked = отозвана
miniapp-traffic-invite_confirm_revoke = Отозвать ссылку? По ней больше никто не вступит; вступившие останутся в подсчёте.
miniapp-traffic-no_campaign = Такой кампании нет.
miniapp-traffic-no_link = Такой ссылки нет.
miniapp-traffic-no_bot = Бот не настроен.
miniapp-traffic-telegram_down = Telegram не ответил, попробуйте ещё раз.
miniapp-traffic-bad_chat = «{ $chat }» — не чат: укажите @имя, ссылку t.me или числовой id.
miniapp-traffic-chat_unknown = Бот не видит { $chat }: добавьте его в канал или группу администратором.
miniapp-traffic-not_a_channel = Ссылки-приглашения делаются для каналов и групп.
miniapp-traffic-not_chat_admin = Ссылки «{ $chat }» может создавать только администратор этого чата.
miniapp-traffic-bot_rights = Бот не может создавать ссылки в «{ $chat }»: сделайте его администратором с правом приглашать пользователей.
miniapp-traffic-telegram_refused = Telegram отказал: { $error }
# Выгрузки CSV через скачивание Telegram (webapp/api/downloads.py).
miniapp-downloads-too_big = Файл слишком большой для такого скачивания.
miniapp-downloads-kind = Так скачиваются только файлы CSV.
