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

## Отказы: одна строка с названием настройки
settings-error-value = { $setting }: допустимо: { $accepts }; получено «{ $value }»
settings-error-unknown = нет настройки «{ $setting }»; настройки: { $known }
settings-error-assignment = «{ $setting }» — не в виде ключ=значение
settings-error-twice = { $setting } указан дважды
settings-error-many = { $setting }: не больше { $max } элементов
settings-error-thresholds = { $setting }: нужно 0 ≤ t_escalate < t_auto ≤ 1, а получилось бы t_escalate={ $t_escalate }, t_auto={ $t_auto }
settings-error-voice = { $setting }: сначала задайте elevenlabs_api_key и elevenlabs_voice_id (или в том же изменении)
settings-error-nothing = нечего менять: укажите ключ=значение

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
