# The command line (salesop/), in the language of SALESOP_LANGUAGE, and the errors of core services it prints
# (core.errors.UserError with a code; the bot shows them in the manager's language too).

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
