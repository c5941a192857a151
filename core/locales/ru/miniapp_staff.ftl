## Mini App: staff and roles (webapp/api/staff.py, webapp/api/roles.py, core/services/roles.py)

miniapp-staff-title = Сотрудники
miniapp-staff-invite-title = Пригласить
miniapp-staff-invite-role = Роль
miniapp-staff-invite-valid = Действует
miniapp-staff-invite-days = { $count ->
    [one] { $count } день
    [few] { $count } дня
   *[many] { $count } дней
}
miniapp-staff-invite-create = Создать ссылку
miniapp-staff-invite-made = Ссылка для роли «{ $role }», действует до { $expires }. Она одноразовая: отправьте её одному человеку.
miniapp-staff-invite-no_bot = Бот недоступен, ссылку собрать не удалось. Попросите человека написать боту: /start { $token }
miniapp-staff-copy = Копировать
miniapp-staff-copied = Скопировано
miniapp-staff-share = Отправить в Telegram
miniapp-staff-share_text = Приглашение в команду «{ $tenant }»
miniapp-staff-invitations = Ждут ответа
miniapp-staff-invitations-none = Неиспользованных приглашений нет
miniapp-staff-invitation = { $role } · до { $expires } · { $by }
miniapp-staff-people = Люди
miniapp-staff-me = это вы
miniapp-staff-removed = удалён
miniapp-staff-last_active = Был активен: { $when }
miniapp-staff-never = Действий пока не было
miniapp-staff-groups = Группы: { $groups }
miniapp-staff-no_groups = Группы менеджеров не подключены
miniapp-staff-role = Роль
miniapp-staff-remove = Удалить
miniapp-staff-remove_confirm = Удалить { $name }? Доступ закончится сразу: бот и приложение перестанут его пускать, его уберут из групп менеджеров, а его открытые диалоги останутся без ответственного.
miniapp-staff-removed_done = { $name } удалён. Доступ закрыт.
miniapp-staff-role_changed = { $name }: теперь роль «{ $role }»

miniapp-roles-title = Роли
miniapp-roles-people = Людей с этой ролью: { $count }
miniapp-roles-permissions = Что разрешено
miniapp-roles-fields = Что видно о клиенте
miniapp-roles-matrix = Кто что видит
miniapp-roles-save = Сохранить роль
miniapp-roles-saved = Роль «{ $role }» сохранена. Изменения уже действуют везде, карточки в темах обновятся.
miniapp-roles-owner_note = Роль владельца всегда даёт все права.
miniapp-roles-perm-view_conversations = Видеть диалоги
miniapp-roles-perm-manage_conversations = Отвечать, одобрять черновики, назначать, продажа/отказ
miniapp-roles-perm-view_customers = Видеть клиентов
miniapp-roles-perm-manage_customers = Менять клиентов (теги)
miniapp-roles-perm-delete_customer_data = Удалять данные клиента
miniapp-roles-perm-view_analytics = Сводка и аналитика
miniapp-roles-perm-view_traffic = Отчёт по трафику
miniapp-roles-perm-view_spend = Расходы на ИИ
miniapp-roles-perm-manage_products = Каталог товаров
miniapp-roles-perm-manage_knowledge_base = База знаний
miniapp-roles-perm-manage_autosend = Режим ИИ в диалоге
miniapp-roles-perm-manage_policies = Правила ИИ
miniapp-roles-perm-manage_training = Обучение ИИ
miniapp-roles-perm-export_training_data = Выгрузка данных обучения
miniapp-roles-perm-manage_channels = Каналы
miniapp-roles-perm-manage_tenant_settings = Настройки бизнеса
miniapp-roles-perm-manage_users = Сотрудники и роли
miniapp-roles-perm-manage_media = Медиатека
miniapp-roles-perm-view_audit_logs = Журнал действий
miniapp-roles-field-phone = Телефон
miniapp-roles-field-email = Email
miniapp-roles-field-profile_link = Ссылка на профиль
miniapp-roles-field-username = Username
miniapp-roles-field-traffic_source = Источник трафика
miniapp-roles-field-tags = Теги
miniapp-roles-field-notes = Заметки
miniapp-roles-field-deal_amount = Сумма сделки
miniapp-roles-field-ai_cost = Расходы на ИИ
miniapp-roles-error-no_permission = Менять роли может только владелец или администратор бизнеса.
miniapp-roles-error-role_unknown = Роли «{ $role }» нет.
miniapp-roles-error-bad_permission = Неизвестное право: { $value }.
miniapp-roles-error-bad_field = Неизвестное поле: { $value }.
miniapp-roles-error-owner_only = Роль владельца может менять только владелец.
miniapp-roles-error-owner_keeps_all = У роли владельца нельзя забрать права: она всегда даёт все.
miniapp-roles-error-not_yours = Нельзя выдать права, которых нет у вас самих: { $permissions }.
miniapp-roles-error-lockout = Нельзя забрать право «Сотрудники и роли» у своей же роли: вернуть его вы уже не сможете.
