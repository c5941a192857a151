# One line per bot command (bot/commands.py): /help and the command menus Telegram shows.
cmd-start = что это за бот и что делать дальше
cmd-help = ваши команды
cmd-language = язык бота
cmd-status = готовность компании к работе: что настроено и что осталось
cmd-settings = настройки компании; в группе — отчёты и эскалации в этот чат
cmd-invite = пригласить сотрудника
cmd-staff = сотрудники и их роли
cmd-connect_telegram = подключить Telegram-аккаунт компании
cmd-cancel = прервать подключение аккаунта
cmd-connect = подключить эту группу как группу менеджеров
cmd-inbox = кто из клиентов ждёт ответа
cmd-note = заметка к диалогу (клиент её не видит)
cmd-assign = назначить ответственного: себя или @сотрудника
cmd-ai = режим ИИ в диалоге: off, learning, semi, auto
cmd-won = сделка выиграна (можно с суммой)
cmd-lost = сделка проиграна (можно с причиной)
cmd-close = закрыть диалог
cmd-reopen = открыть диалог снова
cmd-delete = ответом на своё сообщение — удалить его у клиента

# The menu button of a staff member's private chat: opens the Mini App.
menu-app = Панель
