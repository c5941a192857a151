# The private chat with the bot (bot/handlers/private.py): /start, /help, /language, /status.

## /start
start-hello = 👋 Это <b>Sales Operator</b> — бот отдела продаж. Клиенты пишут компании в Telegram и VK, каждый диалог становится отдельной темой в группе менеджеров, ИИ готовит черновики ответов, а менеджер отправляет, правит или отклоняет их кнопками.
start-stranger = Вы пока не сотрудник ни одной компании. Попросите руководителя прислать ссылку-приглашение и откройте её — бот сразу узнает вас и покажет, что делать.
start-admin = <b>{ $tenant }</b> — вы { $role }.
start-next-group = Следующий шаг — группа менеджеров: создайте супергруппу, включите в её настройках «Темы» и добавьте бота администратором (права: управление темами, закрепление и удаление сообщений, блокировка участников). Группа подключится сама.
start-next-channel = { $can_connect ->
    [yes] Следующий шаг — канал, куда пишут клиенты: Telegram-аккаунт компании подключается здесь командой /connect_telegram, сообщество VK — на сервере: <code>salesop channel add vk --tenant { $slug } …</code>
   *[no] Следующий шаг — канал, куда пишут клиенты: подключить его может технический специалист (/connect_telegram) или на сервере: <code>salesop channel add vk --tenant { $slug } …</code>
}
start-next-status = Группа и каналы подключены. Что ещё стоит настроить — покажет /status.
start-staff-manager = <b>{ $tenant }</b> — вы { $role }. Диалоги клиентов приходят темами в группу менеджеров: отвечайте прямо в теме, черновики ИИ отправляйте, правьте или отклоняйте кнопками на карточке. /inbox покажет, кто ждёт ответа.
start-staff-viewer = <b>{ $tenant }</b> — вы { $role }: читаете диалоги в группе менеджеров и смотрите аналитику, но не отвечаете клиентам.
start-staff-analyst = <b>{ $tenant }</b> — вы { $role }: отчёты по источникам трафика и аналитика — в панели (Mini App).
start-staff-finance = <b>{ $tenant }</b> — вы { $role }: расходы на ИИ и аналитика — в панели (Mini App).
start-staff-tech = <b>{ $tenant }</b> — вы { $role }: подключаете каналы (/connect_telegram), ведёте базу знаний, каталог и медиатеку.
start-staff-other = <b>{ $tenant }</b> — вы { $role }. Что доступно вашей роли — в /help.
start-app = Кнопка «Панель» рядом с полем ввода открывает Mini App.
start-footer = Ваши команды — /help, язык бота — /language.
start-role-owner = владелец
start-role-admin = администратор
start-role-manager = менеджер
start-role-analyst = трафик-аналитик
start-role-finance = финансы
start-role-tech = техспециалист
start-role-viewer = наблюдатель

## /help
help-title = <b>Ваши команды</b>
help-where-private = <b>Здесь, в личном чате с ботом:</b>
help-where-group = <b>В группе менеджеров:</b>
help-where-topic = <b>В теме диалога:</b>
help-stranger = Остальные команды откроются, когда вы примете приглашение руководителя.

## /language
language-choose = Выберите язык бота:
language-set = Готово: бот говорит по-русски.
language-stranger = Бот отвечает на языке вашего Telegram — сменить его можно в настройках Telegram. Свой выбор языка появится, когда вы станете сотрудником компании.
language-button-ru = Русский
language-button-en = English

## /status
status-denied = Проверка готовности доступна владельцу и администраторам компании.
status-title = <b>Готовность: { $tenant }</b> (<code>{ $slug }</code>)
status-summary-ready = Всё необходимое настроено — клиенты получат ответы.
status-summary-todo = { $count ->
    [one] Осталось { $count } обязательное дело (❌).
    [few] Осталось { $count } обязательных дела (❌).
   *[many] Осталось { $count } обязательных дел (❌).
}
status-section-groups = <b>Группы менеджеров</b>
status-group-none = Группы менеджеров нет.
status-group-ok = «{ $title }»: темы включены, все права есть
status-group-removed = «{ $title }»: бота удалили из группы
status-group-no_topics = «{ $title }»: в группе не включены темы
status-group-rights = «{ $title }»: боту не хватает прав — { $rights }
status-group-rotated = (заполнена: новые диалоги идут в более новую группу)
status-right-can_manage_topics = управление темами
status-right-can_pin_messages = закрепление сообщений
status-right-can_delete_messages = удаление сообщений
status-right-can_restrict_members = блокировка участников
status-section-channels = <b>Каналы</b>
status-channel-none = Ни одного канала не подключено.
status-channel-line = { $kind } «{ $title }»: { $state }
status-channel-state-new = подключается
status-channel-state-connecting = подключается
status-channel-state-active = работает
status-channel-state-flood_wait = пауза по требованию площадки до { $until }
status-channel-state-captcha = площадка просит капчу
status-channel-state-error = ошибка: { $detail }
status-channel-state-revoked = доступ отозван
status-channel-state-disabled = выключен
status-kind-telegram_account = Telegram-аккаунт
status-kind-vk_community = Сообщество VK
status-kind-vk_user = Аккаунт VK
status-import-progress = { $percent }% ({ $done } из { $total })
status-import-count = { $done ->
    [one] { $done } диалог
    [few] { $done } диалога
   *[many] { $done } диалогов
}
status-import-idle = импорт истории ждёт запуска
status-import-running = импорт истории идёт: { $progress }
status-import-paused = импорт истории приостановлен: { $progress }
status-import-done = история импортирована ({ $messages } сообщ.)
status-import-failed = импорт истории прервался: { $progress }
status-section-setup = <b>Настройка</b>
status-knowledge = { $count ->
    [one] База знаний: { $count } документ
    [few] База знаний: { $count } документа
   *[many] База знаний: { $count } документов
}
status-catalog = { $count ->
    [one] Каталог: { $count } товар
    [few] Каталог: { $count } товара
   *[many] Каталог: { $count } товаров
}
status-staff = Сотрудники: { $roles }
status-staff-count = { $role } — { $count }
status-ai-openai = ИИ: OpenAI-совместимая модель ({ $model })
status-ai-offline = ИИ: ключа нет — работает локальный ответчик по базе знаний
status-autosend-on = Автоответы включены
status-autosend-off = Автоответы выключены (компания: { $tenant ->
    [yes] да
   *[no] нет
}, платформа: { $platform ->
    [yes] да
   *[no] нет
})
status-failures-none = Сбоев отправки за сутки нет
status-failures = { $count ->
    [one] За сутки { $count } команда не выполнена. Последняя ошибка: { $error }
    [few] За сутки { $count } команды не выполнены. Последняя ошибка: { $error }
   *[many] За сутки { $count } команд не выполнено. Последняя ошибка: { $error }
}
status-unconfirmed = { $count ->
    [one] За сутки { $count } сообщение отправлено повторно, хотя первая попытка могла дойти (процесс остановился во время отправки): оно может быть видно дважды
    [few] За сутки { $count } сообщения отправлены повторно, хотя первая попытка могла дойти (процесс остановился во время отправки): они могут быть видны дважды
   *[many] За сутки { $count } сообщений отправлено повторно, хотя первая попытка могла дойти (процесс остановился во время отправки): они могут быть видны дважды
}
status-miniapp-ok = Mini App подключена: у сотрудников есть кнопка «Панель»
status-miniapp-missing = Адрес Mini App не задан: кнопки «Панель» нет

## What to do next (core.services.readiness.Fix)
status-fix-add_group = создайте супергруппу, включите «Темы» и добавьте бота администратором — группа подключится сама
status-fix-readd_bot = добавьте бота в «{ $title }» снова администратором
status-fix-enable_topics = включите «Темы» в настройках «{ $title }», затем отправьте там /connect
status-fix-grant_rights = дайте боту эти права в списке администраторов «{ $title }» — бот заметит это сам
status-fix-add_channel = Telegram-аккаунт — /connect_telegram здесь; сообщество VK — <code>salesop channel add vk --tenant { $slug } …</code>
status-fix-channel_wait = подождите: канал подключится сам; если состояние не меняется, проверьте, что сервер запущен
status-fix-channel_captcha = войдите в аккаунт в браузере, пройдите проверку и подключите канал заново
status-fix-channel_reconnect = подключите канал заново: /connect_telegram или <code>salesop channel add … --tenant { $slug }</code>
status-fix-channel_enable = подключите канал заново, чтобы включить его
status-fix-import_resume = продолжите импорт с места остановки: <code>salesop import { $channel }</code>
status-fix-load_knowledge = загрузите доставку, оплату, возвраты и ответы на частые вопросы: <code>salesop kb import --tenant { $slug } папка</code>
status-fix-load_catalog = загрузите товары: <code>salesop products import --tenant { $slug } товары.csv</code>
status-fix-invite_staff = пригласите менеджеров: /invite
status-fix-set_openai_key = для ответов умнее задайте SALESOP_OPENAI_API_KEY (и SALESOP_OPENAI_BASE_URL для другого провайдера) и перезапустите
status-fix-enable_autosend = включить автоответы можно в /settings
status-fix-global_autosend = автоответы выключены для всей платформы (SALESOP_GLOBAL_AUTOSEND=false)
status-fix-offline_autosend = без ключа OpenAI автоответы уходят, только если разрешить их локальному ответчику в /settings
status-fix-check_failures = в темах есть пометки «Не доставлено» с причиной; проверьте каналы выше
status-fix-set_webapp_url = задайте SALESOP_WEBAPP_URL (HTTPS-адрес Mini App) и перезапустите
