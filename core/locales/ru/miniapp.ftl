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
