# Reliability: failures people must see, the single-instance lock, the Mini App rate limit, customer data deletion.

reliability-update-failed = Сообщение не обработано из-за сбоя на сервере ({ $error }) — клиенту ничего не ушло. Отправьте его ещё раз.
