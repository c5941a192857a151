# The command line (salesop/), in the language of SALESOP_LANGUAGE, and the errors of core services it prints
# (core.errors.UserError with a code; the bot shows them in the manager's language too).

## The set-up.
cli-database-unreachable = база данных не отвечает ({ $url }): { $error } — запущен ли PostgreSQL и верен ли SALESOP_DATABASE_URL?

## Errors of core services: tenants.
tenants-error-bad_timezone = неизвестный часовой пояс «{ $timezone }» (нужно имя IANA, например Europe/Moscow)
tenants-error-bad_slug = код «{ $slug }» должен быть длиной 2–63 символа: строчные латинские буквы, цифры и «-»
tenants-error-empty_name = название компании не может быть пустым
tenants-error-slug_taken = компания с кодом «{ $slug }» уже есть
tenants-error-unknown = нет компании с кодом «{ $slug }»
tenants-error-unknown_role = нет роли «{ $role }»

## Errors of core services: channels.
channels-error-no_credentials = не указан токен или ключ доступа канала
channels-error-unknown = нет канала { $channel }
channels-error-no_stored_credentials = у канала { $channel } не сохранён доступ: подключите его заново

## Errors of core services: the catalog (CSV price lists) and what is wrong with one row.
catalog-error-bad_encoding = файл не в UTF-8 и не в cp1251
catalog-error-no_rows = в файле нет строк с товарами
catalog-error-no_header = не найдены обязательные колонки: { $missing } (заголовки: артикул/sku, наименование/name, цена/price)
catalog-problem-row = строка { $line }: { $reason }
catalog-problem-sku_missing = нет артикула
catalog-problem-sku_too_long = артикул длиннее 64 символов
catalog-problem-name_missing = нет наименования
catalog-problem-price_missing = нет цены
catalog-problem-price_bad = цена «{ $value }» не похожа на число
catalog-problem-price_negative = цена меньше нуля
catalog-problem-stock_bad = остаток «{ $value }» не похож на число
catalog-problem-stock_negative = остаток меньше нуля
catalog-problem-duplicate = артикул { $sku } уже был в строке { $line }
catalog-problem-columns = в строке { $count ->
        [one] { $count } колонка
        [few] { $count } колонки
       *[many] { $count } колонок
    }, а в заголовке { $expected }
catalog-problem-currency_bad = валюта «{ $value }» — нужен трёхбуквенный код (RUB, USD)

## Errors of core services: the knowledge base, and what is wrong with one file or row.
knowledge-error-no_path = нет такого файла или папки: { $path }
knowledge-error-bad_type = неизвестный тип документа «{ $value }»; возможные: { $choices }
knowledge-error-qa_header = { $name }: нужны колонки «вопрос» и «ответ» (question, answer)
knowledge-error-unknown_document = нет документа { $document }
knowledge-problem-unsupported = { $name }: формат не поддерживается (нужны .md, .txt или .csv)
knowledge-problem-empty = { $name }: пустой файл
knowledge-problem-qa_row = { $name }, строка { $line }: { $reason }
knowledge-problem-qa_missing_q = нет вопроса
knowledge-problem-qa_missing_a = нет ответа

## salesop channel …, salesop import
cli-channel-wrong_community = токен принадлежит сообществу { $actual }, а не { $expected }
cli-channel-vk_rejected = VK отклонил токен ({ $vk_code }: { $message })
cli-channel-not_a_community = токен не принадлежит сообществу VK
cli-channel-not_a_user = токен не принадлежит пользователю VK
cli-channel-vk_unreachable = VK API недоступен по адресу { $url }: { $error }
cli-channel-none = каналов пока нет: salesop channel add vk --tenant { $slug } --group-id G --token T
cli-channel-import_line = [импорт: { $status }, { $done }{ $total } { $count ->
        [one] диалог
        [few] диалога
       *[many] диалогов
    }, { $messages }]
cli-import-status-idle = не начат
cli-import-status-running = идёт
cli-import-status-paused = приостановлен
cli-import-status-done = завершён
cli-import-status-failed = ошибка
cli-import-done = канал { $channel } импортирован: { $conversations ->
        [one] { $conversations } диалог
        [few] { $conversations } диалога
       *[many] { $conversations } диалогов
    }, { $messages } (за этот запуск — { $this_run }) за { $seconds } с
cli-import-not_imported = { "  " }не импортировано: { $error }

## salesop products …, kb …, training …, spend
cli-kb-imported = товары: создано { $created }, обновлено { $updated }, без изменений { $unchanged }; ошибок: { $errors }
cli-kb-bad_row = { "  " }строка { $line }: { $reason }
cli-kb-ignored = { "  " }пропущены колонки: { $columns }
cli-kb-no_products = в каталоге пока нет товаров: salesop products import --tenant { $slug } FILE
cli-kb-kb_imported = база знаний: создано { $created }, обновлено { $updated }, без изменений { $unchanged }; фрагментов { $chunks }; ошибок: { $errors }
cli-kb-kb_error = { "  " }{ $error }
cli-kb-no_documents = в базе знаний пока нет документов: salesop kb import --tenant { $slug } PATH
cli-kb-reembedded = пересчитано векторов: { $count } (модель { $embedder }); устаревших осталось: { $left }
cli-kb-exported = выгружено примеров: { $count } → { $target }
cli-kb-queue_empty = очередь на разбор пуста
cli-kb-queue_row = диалог { $dialog_id }  балл { $score }  правок { $edits }, отказов { $rejections }, эскалаций { $escalations }, сильных переписываний { $low_similarity }, сообщений { $messages }
cli-kb-spend_total = итого: ${ $cost } за { $calls ->
        [one] { $calls } вызов
        [few] { $calls } вызова
       *[many] { $calls } вызовов
    }
cli-kb-no_file = нет такого файла: { $path }
cli-kb-demo_loaded = демо-магазин загружен: товаров { $products }, документов { $documents }
cli-kb-bad_grouping = --by: неизвестная группировка { $unknown }; можно: { $choices }

## Any command
cli-bad_settings = неверная настройка: { $details }

## salesop --help: argparse's own words, then the help of every command and option.
cli-help-salesop = Sales Operator: пульт управления AI-продажами.
cli-help-command = КОМАНДА
cli-help-positionals = позиционные аргументы
cli-help-options = параметры
cli-help-help = показать эту справку и выйти
cli-help-usage = использование:
cli-help-error = { $prog }: ошибка: { $message }
cli-help-migrate = применить миграции базы данных (при необходимости запускает встроенную базу)
cli-help-db_url = показать адрес базы данных, с которым работает программа
cli-help-show_password = показать и пароль (по умолчанию скрыт)
cli-help-tenant = компании (бизнесы)
cli-help-tenant_create = создать компанию со стандартными ролями и показать одноразовую ссылку владельца
cli-help-slug = короткий код компании: строчные латинские буквы, цифры и «-»
cli-help-name = название, которое видят сотрудники и клиенты
cli-help-timezone = часовой пояс IANA для рабочих часов и отчётов (по умолчанию Europe/Moscow)
cli-help-json = вывести JSON вместо текста
cli-help-tenant_list = список компаний
cli-help-rotate_key = перешифровать все сохранённые секреты новым мастер-ключом
cli-help-run = запустить всё в одном процессе (без токена бота — офлайн-демо на локальной песочнице)
cli-help-sandbox = запустить локальные заменители Telegram, VK, OpenAI и ElevenLabs
cli-help-host = адрес, на котором слушают заменители
cli-help-limits = ограничения частоты Telegram в заменителе
cli-help-time_scale = эмулируемых секунд в одной реальной
cli-help-serve = запустить отдельные службы (раздельный запуск в продакшене: см. docker-compose.yml)
cli-help-services = какие службы запустить: { $choices }
cli-help-worker = запустить обработчик задач на брокере Redis (их можно запускать сколько нужно)
cli-help-channel = подключение каналов и их список (сообщества VK, аккаунты VK и Telegram)
cli-help-channel_add = подключить канал
cli-help-channel_add_vk = сообщество VK (ключ доступа сообщества с правом на сообщения)
cli-help-tenant_slug = код компании
cli-help-group_id = id сообщества VK (цифры, без «club»)
cli-help-community_token = ключ доступа сообщества
cli-help-channel_add_vk_user = аккаунт пользователя VK (ключ доступа пользователя с правом на сообщения)
cli-help-user_token = ключ доступа пользователя
cli-help-channel_list = каналы компании, их состояние и ход импорта
cli-help-import = импортировать (или продолжить импорт) всю историю канала
cli-help-channel_id = id канала (см. salesop channel list)
cli-help-import_json = в конце вывести итог одной строкой JSON в stdout
cli-help-no_progress = без индикатора хода в stderr
cli-help-products = каталог товаров
cli-help-products_import = загрузить товары из CSV-файла (обновляет по артикулу)
cli-help-products_file = CSV-файл: UTF-8 или cp1251, разделитель ; или ,
cli-help-products_list = список товаров
cli-help-kb = база знаний
cli-help-kb_import = загрузить файлы markdown, текст или CSV с вопросами и ответами (файл или папку)
cli-help-kb_path = файл или папка
cli-help-kb_type = тип документа (policy, faq, delivery, returns, payment, script, objection); по умолчанию — по файлу
cli-help-kb_list = список документов базы знаний
cli-help-kb_reembed = пересчитать векторы фрагментов, сделанные другой моделью
cli-help-kb_load_demo = загрузить каталог и базу знаний демо-магазина
cli-help-training = данные для обучения
cli-help-training_export = одобренные и исправленные ответы в JSONL (формат дообучения чат-моделей)
cli-help-out = файл для записи (по умолчанию stdout)
cli-help-won_only = только диалоги, закончившиеся продажей
cli-help-training_queue = диалоги, которые стоит разобрать, самые поучительные первыми
cli-help-limit = не больше стольких диалогов (по умолчанию 20)
cli-help-spend = расходы компании на AI (USD, точно)
cli-help-days = за последние N дней (по умолчанию 30)
cli-help-by = группировка через запятую: { $choices }
cli-help-staff = приглашения, список сотрудников, смена ролей, удаление
cli-help-staff_invite = показать одноразовую ссылку-приглашение на роль
cli-help-role = код роли: owner, admin, manager, analyst, finance, tech, viewer
cli-help-ttl_hours = сколько часов действует ссылка (по умолчанию 7 дней)
cli-help-staff_list = сотрудники компании, включая удалённых
cli-help-staff_role = дать сотруднику другую роль
cli-help-telegram_user_id = id пользователя Telegram (см. salesop staff list)
cli-help-new_role = код новой роли
cli-help-staff_remove = удалить (уволить) сотрудника: доступ пропадает сразу, группы его банят

## salesop migrate, tenant, rotate-key, sandbox, serve, worker
cli-base-migrated = база данных на версии { $heads }
cli-base-tenant_created = компания { $slug } создана (id { $id })
cli-base-no_tenants = компаний пока нет: salesop tenant create --slug shop --name "Мой магазин"
cli-base-rotated_file = { $count ->
        [one] перешифрован { $count } секрет
        [few] перешифровано { $count } секрета
       *[many] перешифровано { $count } секретов
    }; новый ключ — в { $path }
cli-base-rotated_env = { $count ->
        [one] перешифрован { $count } секрет
        [few] перешифровано { $count } секрета
       *[many] перешифровано { $count } секретов
    }. Сейчас же задайте SALESOP_MASTER_KEY новым ключом:
cli-base-sandbox_stop = токен бота песочницы; Ctrl-C — остановить
cli-base-unknown_service = неизвестная служба «{ $service }»; можно: { $choices }
cli-base-worker_needs_redis = обработчику задач нужен SALESOP_REDIS_URL (без Redis `salesop run` выполняет задачи в своём процессе)

## salesop run / serve: what each line says after its name, and why it would not start
cli-run-already_running = в { $path } уже работает другой salesop: остановите его или дайте этому свой SALESOP_DATA_DIR
cli-run-already_running_pid = в { $path } уже работает другой salesop (pid { $pid }): остановите его или дайте этому свой SALESOP_DATA_DIR
cli-run-port-webapp = Mini App не может слушать { $host }:{ $port }: { $error }; остановите то, что его занимает, или задайте { $setting }
cli-run-port-webhook = вебхук бота не может слушать { $host }:{ $port }: { $error }; остановите то, что его занимает, или задайте { $setting }
cli-run-worker = приём задач из Redis Streams
cli-run-ready = Ctrl-C — остановить
cli-run-demo = нет SALESOP_BOT_TOKEN: офлайн-демо на локальной песочнице
cli-run-database_embedded = встроенный PostgreSQL + pgvector ({ $path })
cli-run-database_external = внешний PostgreSQL
cli-run-queue_in_process = в этом процессе
cli-run-queue_redis = Redis Streams
cli-run-stopped = остановлено
cli-run-bot_off = выключен (нет SALESOP_BOT_TOKEN): работает только отправка из очереди
cli-run-bot_polling = { $name } (long polling)
cli-run-bot_waiting = ждёт Bot API ({ $call }: { $error }), повторяет с нарастающей паузой
cli-run-bot_webhook = вебхук { $url } (слушает { $address })
cli-run-webapp = { $url }  (Mini App; проверка: /healthz)
cli-run-scheduler = { $count ->
    [one] { $count } периодическая задача (taskiq)
    [few] { $count } периодические задачи (taskiq)
   *[many] { $count } периодических задач (taskiq)
}
cli-run-userbots = приём в реальном времени: { $kinds }
cli-run-no_channels = каналов пока нет
