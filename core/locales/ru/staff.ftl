# Сотрудники: вход по приглашению, роли, увольнение (бот: /start <токен>, /invite, /staff; `salesop staff`).

staff-role-owner = Владелец
staff-role-admin = Администратор
staff-role-manager = Менеджер
staff-role-analyst = Трафик-аналитик
staff-role-finance = Финансы
staff-role-tech = Техспециалист
staff-role-viewer = Наблюдатель

## Вход по ссылке-приглашению

staff-joined = 👋 Добро пожаловать в { $tenant }! Ваша роль: { $role }.
staff-joined-back = 👋 С возвращением в { $tenant }! Ваша роль: { $role }.
staff-welcome-owner =
    Что дальше:
    1. Создайте группу в Telegram, включите в ней темы и добавьте меня администратором с правами «Управление темами», «Закреплять сообщения», «Удалять сообщения» и «Блокировать участников».
    2. Напишите в этой группе /connect { $slug } — каждый диалог с клиентом станет там отдельной темой.
    3. Подключите каналы: аккаунт Telegram — командой /connect_telegram здесь, сообщество VK — `salesop channel add vk`.
    4. /invite — пригласить менеджеров и коллег.
    5. /settings — часы работы, отчёты и ИИ.
staff-welcome-admin =
    Что дальше:
    1. Если у компании ещё нет группы менеджеров: создайте группу в Telegram, включите темы, добавьте меня администратором с правами «Управление темами», «Закреплять сообщения», «Удалять сообщения» и «Блокировать участников» и напишите там /connect { $slug }.
    2. Подключите каналы: аккаунт Telegram — командой /connect_telegram здесь, сообщество VK — `salesop channel add vk`.
    3. /invite — пригласить менеджеров и коллег; /staff — роли и увольнение.
    4. /settings — часы работы, отчёты и ИИ.
staff-welcome-manager =
    Вас добавят в группу менеджеров. Каждый диалог с клиентом — отдельная тема: пишите в теме, и сообщение уйдёт клиенту; черновики ИИ приходят карточками с кнопками «Отправить / Изменить / Отклонить».
staff-welcome-analyst = Вам доступны отчёты по трафику и UTM в Mini App.
staff-welcome-finance = Вам доступны аналитика и расходы на ИИ в Mini App.
staff-welcome-tech = Вы можете подключать каналы (/connect_telegram здесь) и вести базу знаний, каталог и медиатеку.
staff-welcome-viewer = Вы можете читать диалоги и аналитику; отвечать клиентам ваша роль не может.
staff-welcome-other = Что доступно вашей роли, настроил владелец.

## /invite

invite-choose_tenant = В какую компанию приглашаете?
invite-choose_role = Кого приглашаете в { $tenant }? Выберите роль:
invite-made =
    Приглашение в { $tenant }, роль: { $role }. Одноразовое, действует до { $expires } (UTC).
    Отправьте ссылку человеку — он откроет её и нажмёт «Старт»:
    { $link }
invite-made_no_link =
    Приглашение в { $tenant }, роль: { $role }. Одноразовое, действует до { $expires } (UTC).
    Человек отправляет боту:
    /start { $token }

## /staff

staff-choose_tenant = Сотрудников какой компании показать?
staff-list-title = { $tenant }: { $count ->
    [one] { $count } сотрудник
    [few] { $count } сотрудника
   *[many] { $count } сотрудников
}
staff-list-item = { $name }{ $username } — { $role }
staff-list-hint = Нажмите на имя, чтобы сменить роль или уволить.
staff-person = { $name }{ $username } — { $role }. Выберите новую роль или нажмите «Уволить»:
staff-confirm-remove = { $name } — уволить? Доступ пропадёт сразу, из групп менеджеров человек будет заблокирован, а его открытые диалоги останутся без ответственного.
staff-btn-remove = 🚫 Уволить
staff-btn-confirm = Да, уволить
staff-btn-back = ← Назад
staff-done-role = { $name } теперь: { $role }.
staff-done-removed = { $name } уволен(а): заблокирован(а) в { $groups ->
    [one] { $groups } группе менеджеров
   *[other] { $groups } группах менеджеров
}, без ответственного { $dialogs ->
    [one] { $dialogs } открытый диалог
    [few] { $dialogs } открытых диалога
   *[many] { $dialogs } открытых диалогов
}.

## Командная строка (`salesop staff`, `salesop tenant create`)

staff-cli-invite_link = Приглашение в { $tenant }, роль: { $role }. Одноразовое, действует до { $expires } (UTC).
staff-cli-invite_token = Токен бота не задан (SALESOP_BOT_TOKEN), поэтому ссылки нет: человек отправляет боту /start { $token }.
staff-cli-owner_link = Владелец открывает эту ссылку (одноразовая, действует до { $expires } UTC) и становится владельцем { $tenant }:
staff-cli-owner_token = Токен бота не задан (SALESOP_BOT_TOKEN): владелец отправляет боту /start { $token } (одноразово, до { $expires } UTC) и становится владельцем { $tenant }.
staff-cli-no_bot = Не удалось узнать у Telegram имя бота ({ $error }); человек отправляет боту /start { $token }.
staff-cli-empty = В { $tenant } пока нет сотрудников: salesop staff invite --tenant { $tenant } --role owner
staff-cli-row = { $telegram_user_id }  { $name }{ $username }  { $role }{ $removed }
staff-cli-gone = {" "}(уволен)
staff-cli-role_changed = { $name } теперь: { $role }.
staff-cli-removed = { $name } уволен(а): { $groups ->
    [one] блокировка в { $groups } группе менеджеров
   *[other] блокировка в { $groups } группах менеджеров
}, без ответственного { $dialogs ->
    [one] { $dialogs } открытый диалог
    [few] { $dialogs } открытых диалога
   *[many] { $dialogs } открытых диалогов
}.

## Отказы

staff-error-no_permission = Сотрудниками управляют только владелец и администраторы компании.
staff-error-owner_only = Назначить, изменить или уволить владельца может только владелец.
staff-error-tenant_unknown = Такой компании нет.
staff-error-role_unknown = Роли «{ $role }» нет. Роли: { $roles }.
staff-error-staff_unknown = Сотрудник { $who } не найден.
staff-error-bad_ttl = Приглашение может действовать от 1 минуты до { $days } дней.
staff-error-invite_unknown = Эта ссылка-приглашение недействительна. Попросите новую.
staff-error-invite_used = Этой ссылкой-приглашением уже воспользовались. Попросите новую.
staff-error-invite_expired = Срок этой ссылки-приглашения истёк. Попросите новую.
staff-error-already_staff = Вы уже работаете в { $tenant }; приглашение осталось неиспользованным.
staff-error-staff_removed = { $name } здесь больше не работает.
staff-error-remove_self = Нельзя уволить самого себя.
staff-error-last_owner = Компания останется без владельца: сначала назначьте владельцем кого-то ещё.
staff-error-not_staff = Вы не сотрудник ни одной компании здесь. Попросите у владельца ссылку-приглашение.
