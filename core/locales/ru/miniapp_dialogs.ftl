## Mini App: the dialog list (search, filters, pages) and a dialog's page (webapp/api/dialogs.py,
## core/services/dialog_search.py, core/services/miniapp.py). The first texts of both pages live in miniapp.ftl.

miniapp-dialogs-search = Имя, телефон, @username или текст
miniapp-dialogs-search-go = Найти
miniapp-dialogs-f-channel = Канал
miniapp-dialogs-f-manager = Менеджер
miniapp-dialogs-f-outcome = Итог
miniapp-dialogs-f-unread = Непрочитанные
miniapp-dialogs-f-escalated = С эскалацией
miniapp-dialogs-f-any = Любой
miniapp-dialogs-f-unassigned = Без ответственного
miniapp-dialogs-more = Показать ещё
miniapp-dialogs-assignee = Ответственный: { $name }
miniapp-dialogs-outcome-won = продажа
miniapp-dialogs-outcome-lost = отказ
miniapp-dialogs-outcome-none = без итога
miniapp-dialogs-error-bad_cursor = Страница списка устарела: откройте список заново.
miniapp-dialogs-error-bad_filter = Непонятный фильтр: { $name }.
miniapp-dialogs-error-short_query = Для поиска нужно хотя бы { $count ->
    [one] { $count } символ
    [few] { $count } символа
   *[many] { $count } символов
}.

miniapp-dialog-older = Сообщения раньше
miniapp-dialog-imported = из истории
miniapp-dialog-was = было: { $text }
miniapp-dialog-deleted_at = удалено { $when }
miniapp-dialog-not_delivered = не доставлено: { $error }
miniapp-dialog-field-email = Email
miniapp-dialog-field-channel = Канал
miniapp-dialog-field-assignee = Ответственный
miniapp-dialog-field-outcome = Итог
miniapp-dialog-field-amount = Сумма
miniapp-dialog-field-ai_cost = Расходы на ИИ, $
miniapp-dialog-field-ai_mode = Режим ИИ
miniapp-dialog-field-summary = Кратко
miniapp-dialog-nobody = никто
miniapp-dialog-assign_me = Взять себе
miniapp-dialog-unassign = Снять назначение
miniapp-dialog-won = Продажа
miniapp-dialog-lost = Отказ
miniapp-dialog-close = Закрыть
miniapp-dialog-reopen = Открыть снова
miniapp-dialog-amount = Сумма
miniapp-dialog-reason = Причина отказа
miniapp-dialog-note = Заметка
miniapp-dialog-note_add = Добавить заметку
miniapp-dialog-tags_save = Сохранить теги
miniapp-dialog-tags_hint = Через запятую
miniapp-dialog-saved = Сохранено
miniapp-dialog-escalations = Эскалации
miniapp-dialog-escalation = { $reason } · { $status } · { $by } · { $when }
miniapp-dialog-ai_mode-off = выключен
miniapp-dialog-ai_mode-learning = обучение
miniapp-dialog-ai_mode-semi_auto = с одобрением
miniapp-dialog-ai_mode-auto = авто
miniapp-dialog-draft-title = Черновик ИИ
miniapp-dialog-draft-pending = ждёт решения
miniapp-dialog-draft-sent = отправлен как есть
miniapp-dialog-draft-edited = отправлен с правкой
miniapp-dialog-draft-rejected = отклонён
miniapp-dialog-draft-escalated = эскалирован
miniapp-dialog-draft-outdated = устарел
miniapp-dialog-draft-failed = не получился
miniapp-dialog-draft-final = Ушло клиенту: { $text }
miniapp-dialog-draft-reason = Причина: { $reason }
miniapp-dialog-draft-who = { $who }, { $when }
miniapp-dialog-draft-auto = ИИ сам
miniapp-dialog-draft-meta = { $intent } · уверенность { $confidence }
miniapp-dialog-error-unknown = Диалог не найден.
miniapp-dialog-error-bad_cursor = Страница истории устарела: откройте диалог заново.
miniapp-dialog-error-note_empty = Напишите текст заметки.
miniapp-dialog-error-note_long = Заметка длиннее { $count } символов.
miniapp-dialog-error-bad_tags = Не больше { $count } тегов, каждый до { $length } символов.
miniapp-dialog-error-tags_hidden = Ваша роль не видит теги и не может их менять.
miniapp-dialog-error-no_permission = Ваша роль не даёт этого сделать.
miniapp-dialog-error-dialog_unknown = Диалог не найден.
miniapp-dialog-error-bad_ai_mode = Режимы ИИ: выключен, обучение, с одобрением, авто.
miniapp-dialog-error-staff_unknown = Такого сотрудника нет.
miniapp-dialog-error-bad_amount = Сумма должна быть числом: { $raw }
miniapp-dialog-error-bad_outcome = Итог: продажа, отказ, закрыть или открыть снова.
