## Mini App: the shell, errors, dialogs. Each Mini App area keeps its texts in miniapp_<area>.ftl with keys
## under miniapp-<area>-; every key starting with "miniapp" reaches the pages' scripts (webapp/pages.py).

miniapp-common-loading = Загрузка…
miniapp-common-no_telegram = Откройте приложение из Telegram: кнопка «Приложение» в чате с ботом или ссылка из карточки диалога.
miniapp-common-table = Таблица
miniapp-common-hide_table = Скрыть таблицу
miniapp-common-no_data = Нет данных за этот период

miniapp-error-not_staff = Вы не сотрудник ни одного бизнеса здесь. Попросите владельца прислать приглашение.
miniapp-error-other_tenant = Вы не сотрудник этого бизнеса.
miniapp-error-forbidden = Ваша роль «{ $role }» не даёт доступа к этому разделу.

miniapp-nothing-title = Sales Operator
miniapp-nothing-text = Роли «{ $role }» пока не открыт ни один раздел приложения.

miniapp-dialogs-title = Диалоги
miniapp-dialogs-all = Все
miniapp-dialogs-filter-active = Активные
miniapp-dialogs-filter-escalated = Эскалации
miniapp-dialogs-filter-waiting = Ждут клиента
miniapp-dialogs-filter-resolved = Закрытые
miniapp-dialogs-none = Диалогов нет
miniapp-dialogs-messages = { $count } сообщ.
miniapp-dialogs-status-active = активен
miniapp-dialogs-status-waiting = ждёт клиента
miniapp-dialogs-status-escalated = эскалация
miniapp-dialogs-status-resolved = закрыт
miniapp-dialogs-status-inactive = заблокировал

miniapp-dialog-title = Диалог
miniapp-dialog-field-status = Статус
miniapp-dialog-field-phone = Телефон
miniapp-dialog-field-username = Username
miniapp-dialog-field-tags = Теги
miniapp-dialog-field-profile_link = Профиль
miniapp-dialog-field-traffic_source = Источник
miniapp-dialog-field-notes = Заметки
miniapp-dialog-deleted = (удалено)
miniapp-dialog-edited = изменено

## Periods and filters of the report pages

miniapp-period-today = Сегодня
miniapp-period-days7 = 7 дней
miniapp-period-days30 = 30 дней
miniapp-period-custom = Период
miniapp-period-from = С
miniapp-period-to = По
miniapp-period-note = «7 дней» и «30 дней» — последние 7 или 30 суток до этой минуты (как salesop spend --days); «Период» — целые дни по часовому поясу магазина.
miniapp-period-bad_dates = Для своего периода укажите обе даты.
miniapp-period-bad_range = Период должен кончаться после начала и быть не длиннее года.
miniapp-period-unknown = Такого периода нет: сегодня, 7 дней, 30 дней или свой.
miniapp-filter-unknown = Такого канала, сотрудника или группы в этом бизнесе нет.

## Dashboard

miniapp-dashboard-title = Сводка
miniapp-dashboard-filter-channel = Канал
miniapp-dashboard-filter-manager = Менеджер
miniapp-dashboard-filter-group = Группа
miniapp-dashboard-filter-all = Все
miniapp-dashboard-tile-new = Новые диалоги
miniapp-dashboard-tile-active = Активные
miniapp-dashboard-tile-waiting = Ждут ответа сейчас
miniapp-dashboard-tile-escalated = Эскалации
miniapp-dashboard-tile-resolved = Закрыты
miniapp-dashboard-tile-inactive = Заблокировали
miniapp-dashboard-tile-frt = Первый ответ, медиана (мин)
miniapp-dashboard-tile-won = Продажи
miniapp-dashboard-tile-lost = Отказы
miniapp-dashboard-tile-conversion = Конверсия, %
miniapp-dashboard-tile-revenue = Выручка, { $currency }
miniapp-dashboard-tile-csat = Оценка клиентов (CSAT)
miniapp-dashboard-tile-spend = Расходы на ИИ, $
miniapp-dashboard-metric-answered = С ответом
miniapp-dashboard-col-metric = Показатель
miniapp-dashboard-col-count = Число
miniapp-dashboard-col-day = День
miniapp-dashboard-col-who = Кто ответил
miniapp-dashboard-col-answered = Ответов
miniapp-dashboard-col-median = Медиана, мин
miniapp-dashboard-col-p90 = 90-й перцентиль, мин
miniapp-dashboard-col-name = Кто
miniapp-dashboard-col-conversion = Конверсия, %
miniapp-dashboard-col-intent = Тема
miniapp-dashboard-col-reason = Причина
miniapp-dashboard-col-score = Оценка
miniapp-dashboard-chart-dialogs = Диалоги за период
miniapp-dashboard-chart-new_by_day = Новые диалоги по дням
miniapp-dashboard-chart-status = Где диалоги сейчас
miniapp-dashboard-chart-first_response = Время первого ответа
miniapp-dashboard-chart-outcomes_channel = Продажи и отказы по каналам
miniapp-dashboard-chart-outcomes_manager = Продажи и отказы по менеджерам
miniapp-dashboard-chart-ai_share = Что стало с черновиками ИИ (всего: { $drafts })
miniapp-dashboard-chart-intents = О чём пишут клиенты
miniapp-dashboard-chart-lost_reasons = Причины отказов
miniapp-dashboard-chart-csat = Оценки клиентов (всего: { $rated })
miniapp-dashboard-who-ai = ИИ
miniapp-dashboard-who-managers = Менеджеры вместе
miniapp-dashboard-who-outside = Ответ из приложения канала
miniapp-dashboard-who-nobody = Не указано
miniapp-dashboard-ai-auto_sent = Отправил сам
miniapp-dashboard-ai-approved = Одобрены как есть
miniapp-dashboard-ai-edited = Исправлены
miniapp-dashboard-ai-rejected = Отклонены
miniapp-dashboard-ai-escalated = Эскалированы
miniapp-dashboard-ai-pending = Ждут решения
miniapp-dashboard-ai-outdated = Устарели
miniapp-dashboard-ai-failed = Ошибка ИИ
miniapp-dashboard-no_reason = Без причины

## AI spend

miniapp-spend-title = Расходы на ИИ
miniapp-spend-hidden = Роли «{ $role }» не показывают стоимость ИИ.
miniapp-spend-total = Всего, до цента
miniapp-spend-exact = Точно
miniapp-spend-calls = Вызовов
miniapp-spend-col-cost = Стоимость, $
miniapp-spend-col-calls = Вызовов
miniapp-spend-col-day = День
miniapp-spend-col-model = Модель
miniapp-spend-col-purpose = Для чего
miniapp-spend-col-dialog = Диалог
miniapp-spend-col-characters = Символов озвучено
miniapp-spend-col-seconds = Секунд распознано
miniapp-spend-purpose-suggest = Черновики ответов
miniapp-spend-purpose-intent = Определение темы
miniapp-spend-purpose-embed = Поиск по базе знаний
miniapp-spend-purpose-summary = Сводки
miniapp-spend-purpose-tts = Голос
miniapp-spend-purpose-other = Другое
miniapp-spend-chart-by_day = По дням
miniapp-spend-chart-by_model = По моделям
miniapp-spend-chart-by_purpose = По назначению
miniapp-spend-chart-by_dialog = Самые дорогие диалоги
miniapp-spend-no_dialog = Вне диалогов (база знаний, отчёты)

## Traffic

miniapp-traffic-title = Трафик
miniapp-traffic-touch = Касание
miniapp-traffic-touch_first = Первое
miniapp-traffic-touch_last = Последнее
miniapp-traffic-by = Группировать
miniapp-traffic-by_source_campaign = Источник и кампания
miniapp-traffic-by_utm = UTM: source, medium, campaign
miniapp-traffic-by_channel = Канал и источник
miniapp-traffic-by_ref = Код ссылки (ref)
miniapp-traffic-col-touch = Откуда
miniapp-traffic-col-source = Источник
miniapp-traffic-col-medium = Тип трафика
miniapp-traffic-col-campaign = Кампания
miniapp-traffic-col-content = Объявление
miniapp-traffic-col-term = Ключевое слово
miniapp-traffic-col-ref = Код ссылки
miniapp-traffic-col-channel = Канал
miniapp-traffic-col-dialogs = Диалоги
miniapp-traffic-col-won = Продажи
miniapp-traffic-col-lost = Отказы
miniapp-traffic-col-conversion = Конверсия, %
miniapp-traffic-col-revenue = Выручка, { $currency }
miniapp-traffic-revenue = Выручка
miniapp-traffic-unknown = Неизвестно (пришли сами)
miniapp-traffic-chart-first = Диалоги периода по первому касанию
miniapp-traffic-chart-last = Диалоги периода по последнему касанию
miniapp-traffic-campaigns = Ссылки кампаний
miniapp-traffic-campaigns_help = Ссылка на бота t.me/…?start=код записывает касание клиенту в Telegram; ссылка vk.me/…?ref=код — в VK. Клиенты, пришедшие по ссылке, попадают в отчёт с названием кампании.
miniapp-traffic-campaign_name = Название
miniapp-traffic-campaign_source = Источник
miniapp-traffic-campaign_medium = Тип трафика
miniapp-traffic-create = Создать ссылку
miniapp-traffic-no_campaigns = Ссылок кампаний пока нет.
miniapp-traffic-campaign_figures = клиентов: { $customers } · диалогов: { $dialogs } · продаж: { $won }
miniapp-traffic-copy = Копировать
miniapp-traffic-bad_touch = Касание — первое или последнее.
miniapp-traffic-bad_grouping = Такой группировки нет.
miniapp-traffic-bad_name = Укажите название кампании (до 100 символов).
miniapp-traffic-too_long = Источник и тип трафика — до 100 символов.
miniapp-traffic-duplicate = Кампания «{ $name }» уже есть.
miniapp-traffic-welcome = Здравствуйте! Это { $shop }. Напишите нам: { $link } — ответим здесь, в Telegram.
