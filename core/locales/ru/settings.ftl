# Настройки компании: отказы (core.services.tenant_settings), `salesop settings`, панель /settings в боте.

## Что принимает настройка (в отказах и в справке CLI)
settings-accepts-bool = true или false (yes/no, on/off, да/нет)
settings-accepts-number = число от { $min } до { $max }
settings-accepts-integer = целое число от { $min } до { $max }
settings-accepts-choice = одно из: { $choices }
settings-accepts-intent = намерения из списка: { $choices }
settings-accepts-currency = трёхбуквенный код валюты ISO 4217, например RUB или USD
settings-accepts-timezone = часовой пояс IANA, например Europe/Moscow
settings-accepts-time = время ЧЧ:ММ (24 часа) или off
settings-accepts-text = текст не длиннее { $max } символов
settings-accepts-voice = id голоса ElevenLabs (латинские буквы и цифры)
settings-accepts-secret = API-ключ от 8 до 256 символов без пробелов
settings-accepts-chat = id чата Telegram (целое число, например -1001234567890)
settings-accepts-hours = дни и часы, например «пн-пт 09:00-21:00, сб 10:00-18:00, вс выходной»
settings-accepts-pattern = регулярное выражение с одной группой — кодом, например «promo[: ]*(\w+)»

## Отказы: одна строка с названием настройки
settings-error-value = { $setting }: допустимо: { $accepts }; получено «{ $value }»
settings-error-unknown = нет настройки «{ $setting }»; настройки: { $known }
settings-error-assignment = «{ $setting }» — не в виде ключ=значение
settings-error-twice = { $setting } указан дважды
settings-error-many = { $setting }: не больше { $max } элементов
settings-error-thresholds = { $setting }: нужно 0 ≤ t_escalate < t_auto ≤ 1, а получилось бы t_escalate={ $t_escalate }, t_auto={ $t_auto }
settings-error-voice = { $setting }: сначала задайте elevenlabs_api_key и elevenlabs_voice_id (или в том же изменении)
settings-error-nothing = нечего менять: укажите ключ=значение
settings-error-pattern_syntax = { $setting }: «{ $value }» — не регулярное выражение ({ $reason })
settings-error-pattern_groups = { $setting }: в выражении нужна ровно одна группа в скобках — код; в «{ $value }» групп: { $groups }
settings-error-pattern_nested = { $setting }: в «{ $value }» повторяется то, что само повторяется или ветвится, как (a+)+ — на некоторых сообщениях проверка не закончится; перепишите без этого

## Часы работы так, как их читают люди
settings-day-mon = пн
settings-day-tue = вт
settings-day-wed = ср
settings-day-thu = чт
settings-day-fri = пт
settings-day-sat = сб
settings-day-sun = вс
settings-day-daily = ежедневно
settings-day-closed = выходной

## salesop settings
settings-cli-help = показать и изменить настройки компании
settings-cli-tenant = код компании (slug)
settings-cli-show = все настройки с текущими значениями
settings-cli-json = вывести JSON
settings-cli-set = изменить настройки: ключ=значение …, всё или ничего
settings-cli-pairs = одна или несколько пар ключ=значение
settings-cli-keys = Настройки и что они принимают:
settings-cli-formats =
    Текстом: списки через запятую («intents_autosend=greeting, shipping»; пусто или - — пустой список);
    пустое значение или - очищает настройку, которая может быть пустой; пороги: 0.85, 0,85 или 85%.
    working_hours: записи через запятую, каждая «ДНИ ЧАСЫ»: дни mon tue wed thu fri sat sun
    (или пн вт ср чт пт сб вс), диапазон пн-пт, несколько дней «сб вс» или ежедневно (daily); часы ЧЧ:ММ-ЧЧ:ММ
    (конец раньше начала — работа за полночь: 18:00-02:00) или выходной (closed). Неназванные дни — выходные,
    более поздняя запись важнее ранней; просто 09:00-21:00 — каждый день.
    Пример: salesop settings set --tenant shop "working_hours=пн-пт 09:00-21:00, сб 10:00-18:00, вс выходной" t_auto=0.9
settings-cli-changed = { $setting }: { $old } → { $new }
settings-cli-unchanged = ничего не изменилось: настройки уже такие

## Панель /settings в боте
settings-panel-title = ⚙️ Настройки · { $tenant }
settings-panel-autosend = 🤖 ИИ отвечает сам: { $state }
settings-panel-thresholds = 🎯 Отвечает сам от уверенности { $auto }, передаёт диалог человеку ниже { $escalate }
settings-panel-hours = 🕘 Часы работы ({ $timezone }): { $hours }
settings-panel-night = 🌙 В нерабочее время: { $mode }
settings-panel-escalation_here = 🆘 Эскалации приходят в этот чат
settings-panel-escalation_elsewhere = 🆘 Эскалации приходят в другой чат
settings-panel-escalation_none = 🆘 Эскалации не приходят ни в один чат
settings-panel-reports = 📊 Утренние и вечерние отчёты в этом чате: { $state }
settings-panel-more = Остальные настройки: salesop settings show --tenant { $slug }
settings-state-on = вкл
settings-state-off = выкл
settings-night-auto_reply = ночной автоответ, ИИ отвечает как обычно
settings-night-delay = ИИ отвечает с увеличенной задержкой
settings-night-disable = без автоматических ответов
settings-btn-autosend_on = 🤖 Разрешить ИИ отвечать самому
settings-btn-autosend_off = 🤖 Запретить ИИ отвечать самому
settings-btn-thresholds = { $auto } / { $escalate }
settings-btn-hours-daily = 09–21 ежедневно
settings-btn-hours-weekdays = Пн–Пт 09–18
settings-btn-hours_text = ✏️ Другие часы…
settings-btn-night-auto_reply = 💬 Автоответ
settings-btn-night-delay = ⏳ Позже
settings-btn-night-disable = ⛔️ Выкл
settings-btn-escalation_on = 🆘 Эскалации сюда
settings-btn-escalation_off = 🆘 Не присылать эскалации сюда
settings-btn-reports_on = 📊 Отчёты сюда
settings-btn-reports_off = 📊 Без отчётов здесь
settings-btn-cancel = ✖️ Отмена
settings-hours-prompt =
    🕘 Пришлите часы работы следующим сообщением, например:
    пн-пт 09:00-21:00, сб 10:00-18:00, вс выходной
    Дни: пн … вс, диапазон вроде пн-пт или «ежедневно»; «выходной» — нерабочий день; неназванные дни — выходные. Время — { $timezone }.
settings-hours-saved = ✅ Часы работы: { $hours }
settings-saved = ✅ Сохранено
settings-choose_tenant = Настройки какой компании?
settings-refused = Настройки меняют только владелец и администраторы.
settings-not_staff = Вы не сотрудник компании здесь.
