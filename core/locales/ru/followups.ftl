# Follow-up work (core.followups): mirroring, drafts, memory… that failed every attempt, as /status shows it.
followups-status-failed = { $count ->
    [one] { $count } фоновая задача не выполнилась ни с одной попытки ({ $kinds }). Последняя ошибка: { $error }
    [few] { $count } фоновые задачи не выполнились ни с одной попытки ({ $kinds }). Последняя ошибка: { $error }
   *[many] { $count } фоновых задач не выполнились ни с одной попытки ({ $kinds }). Последняя ошибка: { $error }
}
followups-status-fix = устраните причину из текста ошибки (подробности в журнале) и перезапустите salesop: при запуске такие задачи выполняются заново
followups-kind-mirror_message = показ сообщения в теме
followups-kind-mirror_edit = показ правки в теме
followups-kind-refresh_cards = обновление карточек ответа
followups-kind-suggest_reply = черновик ответа
followups-kind-post_suggestion_card = карточка ответа в теме
followups-kind-refresh_customer_memory = обновление памяти о клиенте
followups-kind-reembed_stale = переиндексация базы знаний
followups-kind-transcribe_voice = расшифровка голосового сообщения
