## Инструменты модели (core/ai/tools.py): заявка, которую ИИ передал менеджеру, и её карточка в теме диалога.

tools-lead-card = 📝 <b>Заявка клиента</b> (передал ИИ, ждёт подтверждения)
    Товар: { $product }
    Количество: { $quantity }
    Имя: { $name }
    Контакт: { $contact }
    Комментарий: { $comment }
tools-lead-approve = ✅ Записать заявку
tools-lead-reject = ✖️ Отклонить
tools-lead-approved = ✅ Заявка №{ $lead } записана ({ $manager }): { $product } × { $quantity }.
tools-lead-rejected = ✖️ Заявка №{ $lead } отклонена ({ $manager }).
tools-lead-toast-approved = Заявка записана.
tools-lead-toast-rejected = Заявка отклонена.
tools-lead-handled = Эту заявку уже рассмотрели.
tools-lead-unknown = Такой заявки нет.
