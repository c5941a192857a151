## The shop's voice in dialog topics (core.services.voice, bot/handlers/voice.py) and customers' voice messages.

voice-cmd = озвучить текст голосом магазина: /voice текст
voice-offer = 🎙 Голосовое не ушло клиенту. Переозвучить его голосом магазина или отправить как есть?
voice-button-revoice = 🗣 Переозвучить голосом магазина
voice-button-as_is = ➡️ Отправить как есть
voice-button-send = ✅ Отправить клиенту
voice-button-redo = 🔁 Переозвучить
voice-button-cancel = ✖️ Отмена
voice-preview = 🔊 Так клиент услышит голос магазина. Текст:
    <blockquote>{ $text }</blockquote>
    Исправить текст — ответьте на это сообщение новым текстом.
voice-decided-sent = ✅ Отправлено клиенту голосом магазина (👍 на этом сообщении — когда доставлено). Текст:
    <blockquote>{ $text }</blockquote>
voice-decided-cancelled = ✖️ Отменено: это голосовое клиенту не ушло. Текст:
    <blockquote>{ $text }</blockquote>
voice-decided-replaced = 🔁 Заменено новым вариантом: это голосовое отправлено не будет. Текст:
    <blockquote>{ $text }</blockquote>
voice-offer_taken-revoice = 🗣 Переозвучиваю голосом магазина — образец появится ниже.
voice-offer_taken-as_is = ➡️ Отправлено клиенту как есть.
voice-transcript = 🎙 Расшифровка голосового: <blockquote>{ $text }</blockquote>
voice-transcript_unavailable = 🎙 Расшифровка голосовых недоступна: не подключён сервис распознавания речи. ИИ не отвечает на это голосовое — прослушайте его.
voice-transcript_failed = 🎙 Голосовое не удалось расшифровать. ИИ не отвечает на него — прослушайте его.
voice-toast-working = Озвучиваю…
voice-toast-sending = Отправляю клиенту…
voice-toast-cancelled = Отменено.
voice-error-not_configured = ⚠️ Голос магазина не настроен: нужны ключ ElevenLabs и голос в настройках.
voice-error-no_transcriber = ⚠️ Не могу разобрать голосовое: не подключён сервис распознавания речи. Напишите текст: /voice текст
voice-error-transcription = ⚠️ Не удалось разобрать голосовое ({ $detail }). Напишите текст: /voice текст
voice-error-nothing_heard = ⚠️ В голосовом не разобрать слов. Напишите текст: /voice текст
voice-error-unauthorized = ❌ ElevenLabs не принял ключ API (401). Проверьте ключ в настройках. { $detail }
voice-error-quota_exceeded = ❌ В ElevenLabs закончился лимит символов. Пополните тариф или дождитесь нового месяца. { $detail }
voice-error-voice_not_found = ❌ В ElevenLabs нет выбранного голоса. Выберите голос в настройках заново. { $detail }
voice-error-timeout = ❌ ElevenLabs не ответил вовремя. Нажмите «Переозвучить» или повторите /voice чуть позже. { $detail }
voice-error-unreachable = ❌ ElevenLabs недоступен. Повторите чуть позже. { $detail }
voice-error-too_long = ❌ Текст слишком длинный для ElevenLabs. Сократите его. { $detail }
voice-error-failed = ❌ ElevenLabs не смог озвучить текст. { $detail }
voice-refusal-unknown = Это голосовое сообщение не найдено.
voice-refusal-offer_used = С этим голосовым уже разобрались.
voice-refusal-preview_sent = Это голосовое уже отправлено клиенту.
voice-refusal-preview_redone = Это голосовое уже переозвучено.
voice-refusal-preview_cancelled = Это голосовое отменено.
voice-refusal-preview_replaced = Для этого голосового уже сделан новый текст.
voice-refusal-empty = Напишите текст после команды: /voice текст
voice-refusal-too_long = Слишком длинный текст: в одном голосовом не больше { $limit } символов.
voice-refusal-not_configured = Голос магазина не настроен: нужны ключ ElevenLabs и голос в настройках.
voice-refusal-unavailable = Озвучка сейчас недоступна.
