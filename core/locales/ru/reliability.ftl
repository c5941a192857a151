# Reliability: failures people must see, the single-instance lock, the Mini App rate limit, customer data deletion.

reliability-update-failed = Сообщение не обработано из-за сбоя на сервере ({ $error }) — клиенту ничего не ушло. Отправьте его ещё раз.

reliability-forget-unknown = Клиента { $customer } в этой компании нет.
reliability-forget-done = Данные клиента { $customer } удалены: диалогов — { $dialogs }, сообщений очищено — { $messages }, вложений — { $attachments } (файлов удалено — { $files }), профилей в каналах — { $identities }, обучающих примеров — { $samples }. Обезличенные счётчики для аналитики сохранены.
