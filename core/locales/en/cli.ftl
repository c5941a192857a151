# The command line (salesop/), in the language of SALESOP_LANGUAGE, and the errors of core services it prints
# (core.errors.UserError with a code; the bot shows them in the manager's language too).

## Errors of core services: tenants.
tenants-error-bad_timezone = unknown timezone '{ $timezone }' (use an IANA name such as Europe/Moscow)
tenants-error-bad_slug = slug '{ $slug }' must be 2-63 characters: lowercase latin letters, digits and '-'
tenants-error-empty_name = tenant name must not be empty
tenants-error-slug_taken = a tenant with slug '{ $slug }' already exists
tenants-error-unknown = no tenant with slug '{ $slug }'
tenants-error-unknown_role = no role '{ $role }'

## Errors of core services: channels.
channels-error-no_credentials = credentials must not be empty
channels-error-unknown = no channel { $channel }
channels-error-no_stored_credentials = channel { $channel } has no stored credentials: connect it again

## Errors of core services: the catalog (CSV price lists) and what is wrong with one row.
catalog-error-bad_encoding = the file is neither UTF-8 nor cp1251
catalog-error-no_rows = the file has no product rows
catalog-error-no_header = required columns not found: { $missing } (headers: артикул/sku, наименование/name, цена/price)
catalog-problem-row = line { $line }: { $reason }
catalog-problem-sku_missing = no SKU
catalog-problem-sku_too_long = the SKU is longer than 64 characters
catalog-problem-name_missing = no name
catalog-problem-price_missing = no price
catalog-problem-price_bad = the price “{ $value }” does not look like a number
catalog-problem-price_negative = the price is below zero
catalog-problem-stock_bad = the stock “{ $value }” does not look like a number
catalog-problem-stock_negative = the stock is below zero
catalog-problem-duplicate = SKU { $sku } was already on line { $line }
catalog-problem-columns = the row has { $count ->
        [one] { $count } column
       *[other] { $count } columns
    }, the header { $expected }
catalog-problem-currency_bad = currency “{ $value }” — a three-letter code is needed (RUB, USD)

## Errors of core services: the knowledge base, and what is wrong with one file or row.
knowledge-error-no_path = no such file or folder: { $path }
knowledge-error-bad_type = unknown document type '{ $value }'; one of: { $choices }
knowledge-error-qa_header = { $name }: needs “question” and “answer” columns (вопрос, ответ)
knowledge-error-unknown_document = no document { $document }
knowledge-problem-unsupported = { $name }: format not supported (.md, .txt or .csv)
knowledge-problem-empty = { $name }: empty file
knowledge-problem-qa_row = { $name }, line { $line }: { $reason }
knowledge-problem-qa_missing_q = no question
knowledge-problem-qa_missing_a = no answer

## salesop channel …, salesop import
cli-channel-wrong_community = the token belongs to community { $actual }, not { $expected }
cli-channel-vk_rejected = VK rejected the token ({ $vk_code }: { $message })
cli-channel-not_a_community = the token does not belong to a VK community
cli-channel-not_a_user = the token does not belong to a VK user
cli-channel-vk_unreachable = VK API is unreachable at { $url }: { $error }
cli-channel-none = no channels yet: salesop channel add vk --tenant { $slug } --group-id G --token T
cli-channel-import_line = [import { $status }: { $done }{ $total } { $count ->
        [one] conversation
       *[other] conversations
    }, { $messages }]
cli-import-status-idle = not started
cli-import-status-running = running
cli-import-status-paused = paused
cli-import-status-done = done
cli-import-status-failed = failed
cli-import-done = imported channel { $channel }: { $conversations ->
        [one] { $conversations } conversation
       *[other] { $conversations } conversations
    }, { $messages } ({ $this_run } in this run) in { $seconds } s
cli-import-not_imported = { "  " }not imported: { $error }

## salesop products …, kb …, training …, spend
cli-kb-imported = products: { $created } created, { $updated } updated, { $unchanged } unchanged; errors: { $errors }
cli-kb-bad_row = { "  " }line { $line }: { $reason }
cli-kb-ignored = { "  " }columns skipped: { $columns }
cli-kb-no_products = no products in the catalog yet: salesop products import --tenant { $slug } FILE
cli-kb-kb_imported = knowledge base: { $created } created, { $updated } updated, { $unchanged } unchanged; { $chunks } chunks; errors: { $errors }
cli-kb-kb_error = { "  " }{ $error }
cli-kb-no_documents = no documents in the knowledge base yet: salesop kb import --tenant { $slug } PATH
cli-kb-reembedded = vectors recomputed: { $count } (model { $embedder }); stale left: { $left }
cli-kb-exported = examples exported: { $count } → { $target }
cli-kb-queue_empty = the review queue is empty
cli-kb-queue_row = dialog { $dialog_id }  score { $score }  edits { $edits }, rejections { $rejections }, escalations { $escalations }, heavy rewrites { $low_similarity }, messages { $messages }
cli-kb-spend_total = total: ${ $cost } for { $calls ->
        [one] { $calls } call
       *[other] { $calls } calls
    }
cli-kb-no_file = no such file: { $path }
cli-kb-demo_loaded = demo shop loaded: { $products } products, { $documents } documents
cli-kb-bad_grouping = --by: unknown grouping { $unknown }; choose from: { $choices }

## Any command
cli-bad_settings = a setting is wrong: { $details }
