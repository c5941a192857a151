# The command line (salesop/), in the language of SALESOP_LANGUAGE, and the errors of core services it prints
# (core.errors.UserError with a code; the bot shows them in the manager's language too).

## The set-up.
cli-database-unreachable = the database does not answer ({ $url }): { $error } — is PostgreSQL running and SALESOP_DATABASE_URL right?

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

## salesop --help: argparse's own words, then the help of every command and option.
cli-help-salesop = Sales Operator: AI sales control plane.
cli-help-command = COMMAND
cli-help-positionals = positional arguments
cli-help-options = options
cli-help-help = show this help message and exit
cli-help-usage = usage:
cli-help-error = { $prog }: error: { $message }
cli-help-migrate = apply database migrations (starts the embedded database when needed)
cli-help-db_url = print the effective database URL
cli-help-show_password = print the password too (hidden by default)
cli-help-tenant = manage tenants (businesses)
cli-help-tenant_create = create a tenant with the built-in roles and print the owner's one-time link
cli-help-slug = short code of the tenant: lowercase latin letters, digits and '-'
cli-help-name = the business's name as staff and customers see it
cli-help-timezone = IANA timezone for working hours and reports (default Europe/Moscow)
cli-help-json = print JSON instead of text
cli-help-tenant_list = list tenants
cli-help-rotate_key = re-encrypt every stored secret under a new master key
cli-help-run = run everything in one process (an offline demo on the local sandbox when no bot token is set)
cli-help-sandbox = run the local Telegram, VK, OpenAI and ElevenLabs stand-ins
cli-help-host = address the stand-ins listen on
cli-help-limits = Telegram rate limits of the stand-in
cli-help-time_scale = emulated seconds per real second
cli-help-serve = run some services (the production split: see docker-compose.yml)
cli-help-services = services to run: { $choices }
cli-help-worker = run a task worker on the Redis broker (scale these out)
cli-help-channel = connect and list channels (VK communities, VK and Telegram accounts)
cli-help-channel_add = connect a channel
cli-help-channel_add_vk = a VK community (community access token with messages rights)
cli-help-tenant_slug = tenant slug
cli-help-group_id = VK community id (digits, without 'club')
cli-help-community_token = community access token
cli-help-channel_add_vk_user = a VK user account (user access token with messages rights)
cli-help-user_token = user access token
cli-help-channel_list = list a tenant's channels with their status and import progress
cli-help-import = import (or resume importing) all history of a channel
cli-help-channel_id = the channel's id (see salesop channel list)
cli-help-import_json = print a final JSON summary line on stdout
cli-help-no_progress = no progress bar on stderr
cli-help-products = product catalog
cli-help-products_import = import products from a CSV file (updates by SKU)
cli-help-products_file = CSV file: UTF-8 or cp1251, separated by ; or ,
cli-help-products_list = list products
cli-help-kb = knowledge base
cli-help-kb_import = import markdown, text or Q/A CSV files (a file or a folder)
cli-help-kb_path = a file or a folder
cli-help-kb_type = document type (policy, faq, delivery, returns, payment, script, objection); default: from the file
cli-help-kb_list = list knowledge documents
cli-help-kb_reembed = re-embed chunks made by another embedder
cli-help-kb_load_demo = load the demo shop's catalog and knowledge base
cli-help-training = training data
cli-help-training_export = approved and edited replies as JSONL (chat fine-tuning format)
cli-help-out = file to write (default: stdout)
cli-help-won_only = only dialogs that ended in a sale
cli-help-training_queue = dialogs worth reviewing, most instructive first
cli-help-limit = at most this many dialogs (default 20)
cli-help-spend = AI spend of a tenant (USD, exact)
cli-help-days = last N days (default 30)
cli-help-by = grouping, comma-separated: { $choices }
cli-help-staff = invite people, list staff, change roles, remove people
cli-help-staff_invite = print a single-use invitation link for a role
cli-help-role = role code: owner, admin, manager, analyst, finance, tech, viewer
cli-help-ttl_hours = how many hours the link stays valid (default: 7 days)
cli-help-staff_list = the tenant's staff, removed people included
cli-help-staff_role = give a staff member another role
cli-help-telegram_user_id = the person's Telegram user id (see salesop staff list)
cli-help-new_role = the new role's code
cli-help-staff_remove = remove (fire) a staff member: access ends at once, the groups ban them

## salesop migrate, tenant, rotate-key, sandbox, serve, worker
cli-base-migrated = database at { $heads }
cli-base-tenant_created = created tenant { $slug } (id { $id })
cli-base-no_tenants = no tenants yet: salesop tenant create --slug shop --name "My shop"
cli-base-rotated_file = re-encrypted { $count ->
        [one] { $count } secret
       *[other] { $count } secrets
    }; the new key is in { $path }
cli-base-rotated_env = re-encrypted { $count ->
        [one] { $count } secret
       *[other] { $count } secrets
    }. Set SALESOP_MASTER_KEY to the new key now:
cli-base-sandbox_stop = Ctrl-C stops
cli-base-unknown_service = unknown service '{ $service }'; choose from: { $choices }
cli-base-worker_needs_redis = a worker needs SALESOP_REDIS_URL (without Redis, `salesop run` executes tasks in-process)

## salesop run / serve: what each line says after its name, and why it would not start
cli-run-already_running = another salesop is already running on { $path }: stop it first, or give this one its own SALESOP_DATA_DIR
cli-run-already_running_pid = another salesop (pid { $pid }) is already running on { $path }: stop it first, or give this one its own SALESOP_DATA_DIR
cli-run-port-webapp = the Mini App cannot listen on { $host }:{ $port }: { $error }; stop what uses it or set { $setting }
cli-run-port-webhook = the bot's webhook cannot listen on { $host }:{ $port }: { $error }; stop what uses it or set { $setting }
cli-run-worker = taskiq receiver on Redis Streams
cli-run-ready = press Ctrl-C to stop
cli-run-demo = no SALESOP_BOT_TOKEN: offline demo against the local sandbox
cli-run-database_embedded = embedded PostgreSQL + pgvector ({ $path })
cli-run-database_external = external PostgreSQL
cli-run-queue_in_process = in-process
cli-run-queue_redis = Redis Streams
cli-run-stopped = stopped
cli-run-bot_off = off (no SALESOP_BOT_TOKEN): the outbox dispatcher only
cli-run-bot_polling = { $name } (long polling)
cli-run-bot_waiting = waiting for the Bot API ({ $call }: { $error }), trying again with backoff
cli-run-bot_webhook = webhook { $url } (listening on { $address })
cli-run-webapp = { $url }  (Mini App; health: /healthz)
cli-run-scheduler = { $count ->
    [one] { $count } periodic job (taskiq)
   *[other] { $count } periodic jobs (taskiq)
}
cli-run-userbots = realtime ingest: { $kinds }
cli-run-no_channels = no channels yet
