# The manager bot: topics, cards, notices, buttons (bot/). Keys are written with dots in code: card.tags → card-tags.

## Topic title markers: the status board of dialogs.
marker-new = 🆕
marker-unread = 💬
marker-waiting = ⏳
marker-answered = ✅
marker-escalated = ❗️
marker-won = 🏆
marker-lost = 💔
marker-blocked = 🚫
marker-closed = 💤

## The pinned card of a dialog's topic.
card-channel-telegram_account = Telegram
card-channel-vk_community = VK (сообщество)
card-channel-vk_user = VK (аккаунт)
card-tags = 🏷 { $tags }
card-notes = 📝 Заметки:
card-status = Статус: { $status } · ИИ: { $ai_mode }
card-assignee = Ответственный: { $name }
card-no_assignee = Ответственный: не назначен
card-won = 🏆 Сделка: выиграна{ $amount }
card-lost = 💔 Сделка: проиграна{ $reason }
card-blocked = 🚫 Клиент заблокировал переписку
card-traffic = 📈 Источник: { $source }
card-summary = Кратко: { $summary }
card-history = Последние сообщения:
card-history_in = 👤 { $text }
card-history_out = ↩️ { $text }
card-open_history = 📜 История в Mini App

## A dialog's status and AI mode, as the card and its buttons name them.
dialog-status-active = активен
dialog-status-waiting = ждём клиента
dialog-status-escalated = эскалация
dialog-status-resolved = закрыт
dialog-status-inactive = неактивен

dialog-ai-off = выкл
dialog-ai-learning = обучение
dialog-ai-semi_auto = полуавтомат
dialog-ai-auto = автомат

## Inline buttons of the cards.
btn-ai = ИИ: { $mode }
btn-assign_me = 🙋 Взять себе
btn-won = 🏆 Выиграно
btn-lost = 💔 Проиграно
btn-close = 💤 Закрыть
btn-reopen = ↩️ Открыть снова
btn-send = ✅ Отправить
btn-edit = ✏️ Изменить
btn-reject = ❌ Отклонить
btn-escalate = 🆘 Эскалировать
btn-send_anyway = ✅ Всё равно отправить

## The reply card: an AI draft and what became of it.
reply-title = 💡 <b>Черновик ответа</b>
reply-title_auto = 🤖 <b>Ответ ИИ — уйдёт автоматически</b>
reply-title_escalate = ❗️ <b>ИИ предлагает передать диалог человеку</b>
reply-meta = Намерение: { $intent } · уверенность { $confidence }%
reply-reason = Почему: { $reason }
reply-sources = Источники: { $sources }
reply-ai_failed = ⚠️ ИИ не смог подготовить ответ: { $reason }
reply-sent = ✅ Отправлено · { $who } · { $at }
reply-sent_auto = 🤖 Отправлено автоматически · { $at }
reply-edited = ✏️ Отправлено с правкой · { $who } · { $at }
reply-delivering = ⏳ Отправляется…
reply-delivered = доставлено
reply-failed = ❌ Не доставлено: { $reason }
reply-rejected = ❌ Отклонено · { $who } · { $at }
reply-rejected_reason = Причина: { $reason }
reply-ask_reason = Почему отклонено? (необязательно)
reply-escalated = 🆘 Передано старшему · { $who } · { $at }
reply-outdated = ⌛ Устарело: клиент написал ещё
reply-auto_cancelled = ⌛ Автоответ отменён: ответил менеджер
reply-final = Итоговый текст:
# Пока черновик ждал, клиенту ответил человек: кто ($who: имя или reply-own_account) и когда; ниже его текст.
reply-outdated_answered = ⌛ Не отправлено: клиенту уже ответили · { $who } · { $at }
reply-auto_cancelled_answered = ⏹ Автоответ отменён: клиенту уже ответили · { $who } · { $at }
reply-own_account = аккаунт магазина, { $channel }
reply-answer_media = 📎 с вложением
# «Отправить» на таком черновике: сообщение под карточкой и второе нажатие.
reply-confirm = ⚠️ Клиенту уже ответили · { $who } · { $at }:
reply-confirm_ask = Отправить черновик ИИ ещё и поверх этого ответа?
reply-confirmed = ✅ Черновик тоже отправлен · { $who } · { $at }
reply-confirm_closed = Черновик не отправлен.

## Why a manager rejected a draft.
reject-wrong = Неверно по сути
reject-tone = Не тот тон
reject-offtopic = Не по теме
reject-other = Другое

## What a customer's message is about (the card's "intent").

## Customer messages mirrored into the topic.
mirror-out = ↗️ Ответ из приложения: { $text }
mirror-deleted = 🗑 (сообщение удалено)
mirror-attachment_missing = 📎 { $kind }{ $name } — файл недоступен{ $error }
mirror-edit =
    ✏️ Клиент изменил сообщение:
    <s>{ $old }</s>
    { $new }
mirror-delete = 🗑 Клиент удалил сообщение{ $old }

## Attachment kinds.
kind-photo = Фото
kind-document = Документ
kind-voice = Голосовое
kind-audio = Аудио
kind-video = Видео
kind-video_note = Видеосообщение
kind-sticker = Стикер
kind-other = Вложение

## Notices the bot posts in a topic or group.
notice-group_ready = ✅ Группа подключена. Каждый диалог клиента будет отдельной темой здесь.
notice-group_missing = ⚠️ Группа подключена, но не хватает: { $missing }. Без этого темы не будут работать.
notice-delivery_failed = ❌ Не доставлено клиенту: { $reason_text }
notice-refusal = ⛔️ { $text }
notice-not_staff = ⛔️ Вы не сотрудник этой компании — сообщения отсюда клиенту не уходят.
notice-edit_failed = ❌ Правка не дошла до клиента, у него прежний текст: { $reason_text }
notice-edit_parts_more = ⚠️ Новый текст не уместился: клиенту ушло { $existing ->
        [one] { $existing } сообщение
        [few] { $existing } сообщения
       *[many] { $existing } сообщений
    }, а нужно { $needed }. Они исправлены, но окончание не дошло — допишите его отдельным сообщением.
notice-edit_parts_fewer = ⚠️ Новый текст короче: он занял { $needed ->
        [one] { $needed } сообщение
        [few] { $needed } сообщения
       *[many] { $needed } сообщений
    } из { $existing } отправленных, остальные клиент видит прежними.
notice-edit_text_missing = ⚠️ Клиенту ушёл только файл, без текста, — текст в него не добавить. Отправьте текст отдельным сообщением.
notice-reply_deleted = 🗑 Удалено у клиента.
notice-reply_cancelled = 🗑 Отменено: сообщение не успело уйти клиенту.
notice-delete_failed = ❌ Не удалось удалить у клиента: { $reason_text }

## What a manager group lacks (notice-group_missing).
missing-topics = включите темы (форум) в настройках группы
missing-can_manage_topics = право «Управление темами»
missing-can_pin_messages = право «Закреплять сообщения»
missing-can_delete_messages = право «Удалять сообщения»
missing-can_restrict_members = право «Блокировать участников»
missing-rights = права администратора
missing-not_forum = режим тем

## Why a delivery, edit or deletion failed.
reason-blocked = клиент заблокировал переписку
reason-forbidden = нет доступа к чату клиента
reason-error = ошибка канала
reason-bad_request = канал отклонил сообщение
reason-no_gateway = канал клиента не подключён
reason-transient = канал недоступен
reason-too_old = прошло слишком много времени (во VK править и удалять можно 24 часа)
reason-gone = у клиента этого сообщения уже нет
reason-unknown_peer = канал не знает этого клиента
reason-revoked = доступ к каналу отозван — подключите его заново
reason-unsupported = этот канал не умеет править и удалять сообщения

## /inbox: dialogs waiting for a reply.
inbox-title = 📥 <b>{ $count ->
        [one] Ждёт ответа: { $count } клиент
        [few] Ждут ответа: { $count } клиента
       *[many] Ждут ответа: { $count } клиентов
    }</b>
inbox-item = { $n }. { $name } · { $unread ->
        [one] { $unread } непрочитанное
       *[other] { $unread } непрочитанных
    } · с { $since }
inbox-empty = 📥 Все клиенты получили ответ 🎉

## A dialog handed to a senior (the escalation chat).
escalation-title = 🆘 <b>Эскалация: { $customer }</b>
escalation-reason = Причина: { $reason }
escalation-summary = Кратко: { $summary }
escalation-proposed = Предложенный ответ: { $text }
escalation-clarify = Уточнить: { $text }
escalation-by = Передал: { $who }
escalation-by_ai = Передал: ИИ
escalation-open = Открыть диалог
escalation-reason-manager = решение менеджера

## Callback toasts.
ok-sending = Отправляю клиенту…
ok-confirm_below = Клиенту уже ответили: ответ — под карточкой, там же можно подтвердить отправку черновика.
ok-rejected = Отклонено
ok-reason = Причина сохранена
ok-escalated = Передано старшему
ok-edit_hint = Ответьте на эту карточку исправленным текстом — он уйдёт клиенту.
ok-ai_mode = Режим ИИ: { $mode }
ok-assigned = Ответственный: { $name }
ok-won = Отмечено: выиграно
ok-lost = Отмечено: проиграно
ok-closed = Диалог закрыт
ok-reopened = Диалог открыт

## Refusals: core.services.workspace.WorkspaceError codes, and core errors without a text of their own.
error-not_staff = Вы не сотрудник этой компании — действие недоступно.
error-no_permission = Вашей роли это недоступно.
error-card_unknown = Карточка не найдена.
error-card_outdated = Черновик устарел: клиент написал ещё. Дождитесь нового.
error-card_done = Карточка уже обработана.
error-card_answered = Клиенту уже ответили: нажмите «Отправить» на карточке, чтобы увидеть ответ и подтвердить.
error-empty_text = Пустой текст — нечего отправлять.
error-note_empty = Напишите текст заметки: /note текст
error-not_a_dialog_topic = Это работает только в теме диалога.
error-dialog_unknown = Диалог не найден.
error-bad_ai_mode = Режимы ИИ: /ai off | learning | semi | auto
error-staff_unknown = Сотрудник { $who } не найден.
error-bad_amount = Сумма должна быть числом: /won 15000
error-bad_reason = Неизвестная причина.
error-connect_not_owner = Подключить группу может владелец или администратор компании.
error-connect_choose_tenant = Вы управляете несколькими компаниями: /connect <код> ({ $slugs })
error-connect_taken = Эта группа уже подключена к другой компании.
error-remove_self = Нельзя удалить самого себя.
error-edit_empty = Правка не может оставить ответ пустым. Чтобы забрать его у клиента, ответьте на него /delete.
error-reply_taken_back = Этот ответ уже удалён у клиента — напишите новый.
error-reply_not_delivered = Это сообщение не дошло до клиента — исправлять и удалять у него нечего.
error-delete_needs_reply = Ответьте командой /delete на своё сообщение, которое ушло клиенту.
error-delete_not_a_reply = Это сообщение не уходило клиенту — удалять у него нечего.
error-delete_not_yours = Забрать ответ у клиента может только его автор.
error-reply_already_deleted = Это сообщение уже удалено у клиента.
error-unknown_group = Эта группа не подключена. Владелец: /connect
error-generic = Не получилось: { $message }
