# Status reports in chats (core/services/reports.py, core/reports/templates), /report and `salesop report preview`.

report-morning-title = ☀️ Утренний отчёт · { $tenant } · { $date }
report-evening-title = 🌙 Вечерний отчёт · { $tenant } · { $date }
report-late = ⏰ С опозданием: отчёт на { $scheduled } отправлен в { $posted } — сервис был недоступен.
report-section-yesterday = Вчера, { $date }
report-section-today = Сегодня до { $time }
report-dialogs = Новых диалогов: { $new } · активных: { $active } · с ответом: { $answered }
report-first_response = Первый ответ: медиана { $median }, 90% — не дольше { $p90 }
report-first_response-split = ИИ: { $ai } · менеджеры: { $managers }
report-first_response-none = Первый ответ: новых диалогов с ответом нет
report-first_response-unanswered = Новых без ответа: { $count }
report-outcomes = Сделки: выиграно { $won }, проиграно { $lost }
report-revenue = Выручка: { $amount } { $currency }
report-lost_reasons = Причины проигрыша: { $list }
report-no_reason = без причины
report-spend = Расходы на ИИ: ${ $cost } ({ $calls ->
    [one] { $calls } вызов
    [few] { $calls } вызова
   *[many] { $calls } вызовов
})
report-ai_share = Черновики ИИ: { $drafts } · ушло клиентам { $sent } (сам — { $auto }, как есть — { $approved }, с правкой — { $edited }) · отклонено { $rejected }
report-intents = Частые темы: { $list }
report-waiting-title = ⏳ Ждут ответа: { $count }
report-unanswered-title = ⏳ Осталось без ответа: { $count }
report-waiting-none = ✅ Все клиенты получили ответ
report-waiting-since = ждёт с { $since }, { $count ->
    [one] { $count } сообщение
    [few] { $count } сообщения
   *[many] { $count } сообщений
}
report-more = …и ещё { $count }
report-escalations-title = ❗ Эскалации ждут решения: { $count }
report-escalation-since = с { $since }
report-problems-title = ⚠️ Проблемы каналов и групп
report-problem-channel = { $channel }: { $fix }
report-problem-group = Группа «{ $title }»: { $fix }
report-fix-channel_wait = подключается или ждёт паузу от площадки
report-fix-channel_captcha = площадка просит капчу — подключите заново
report-fix-channel_reconnect = токен отозван или сессия недействительна — подключите заново
report-fix-channel_enable = канал выключен
report-fix-import_resume = импорт истории остановлен — продолжите его
report-fix-readd_bot = бота удалили из группы — добавьте его снова
report-fix-enable_topics = в группе выключены темы
report-fix-grant_rights = боту не хватает прав администратора: { $rights }
report-fix-other = требует внимания
report-duration-seconds = { $count } с
report-duration-minutes = { $count } мин
report-duration-hours = { $hours } ч { $minutes } мин
report-chart-day = 📊 Новые диалоги и ответы по дням
report-chart-hour = 📊 Новые диалоги и ответы по часам
report-chart-new = Новые диалоги
report-chart-answered = С ответом
report-cmd = отчёт в этот чат: /report morning или /report evening
report-refused = Отчёт могут запросить сотрудники этого бизнеса.
report-bad_slot = Какой отчёт? /report morning (за вчера) или /report evening (за сегодня).
report-cli-bad_date = дата должна быть в виде ГГГГ-ММ-ДД: { $value }
report-cli-chart = График: { $path }
report-cli-help = отчёты о работе
report-cli-help_preview = показать утренний или вечерний отчёт, ничего не отправляя
report-cli-help_slot = какой отчёт: morning (за вчера) или evening (за сегодня)
report-cli-help_date = дата отчёта по времени бизнеса (по умолчанию сегодня)
report-cli-help_json = вывести данные, из которых собран отчёт (JSON)
report-cli-help_chart = сохранить график отчёта в PNG-файл
