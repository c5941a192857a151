## Медиатека и быстрые ответы в боте (core.services.media_library, core.services.quick_replies,
## bot/handlers/media.py).

media-cmd-save = сохранить файл в медиатеку: отправьте его с подписью /save название или ответьте на него /save название
media-cmd-q = вставить быстрый ответ: /q слова из его названия или текста

media-save-usage = Чтобы сохранить файл в медиатеку, отправьте фото, видео, голосовое или документ с подписью <code>/save название #тег</code> или ответьте <code>/save название</code> на отправленный файл.
media-save-denied = Сохранять файлы могут только сотрудники, чья роль управляет медиатекой.
media-save-done = ✅ Сохранено в медиатеку «{ $tenant }»: <b>{ $title }</b> ({ $kind }, { $size } МБ). Его можно прикрепить к быстрым ответам в мини-приложении.
media-save-failed = ❌ Не сохранено: { $reason }

media-kind-photo = фото
media-kind-video = видео
media-kind-voice = голосовое
media-kind-document = документ

media-error-empty = файл пустой.
media-error-too_big_for_bot = файл весит { $size } МБ, а боты скачивают из Telegram файлы до { $limit } МБ. Загрузите его в мини-приложении (страница «Медиатека»), до { $upload } МБ.
media-error-too_big = файл весит { $size } МБ: боты отправляют файлы до { $limit } МБ, файл больше не дойдёт до клиента.
media-error-kind = в медиатеку попадают только фото, видео, голосовые и документы.
media-error-audio_format = аудио доходит до клиента голосовым: запишите голосовое сообщение или сконвертируйте файл в OGG/Opus.
media-error-photo_format = фото должно быть в JPEG, PNG или GIF (их принимает ВКонтакте), а не { $format }. Сконвертируйте его или отправьте документом.
media-error-photo_too_big = фото в Telegram — не больше { $limit } МБ, а это { $size } МБ. Уменьшите его или отправьте документом.
media-error-photo_broken = изображение не читается: файл повреждён или это не картинка.
media-error-photo_sides = фото { $width }×{ $height } пикс.: Telegram принимает фото, у которых ширина и высота в сумме не больше { $limit } пикс. Уменьшите его.
media-error-photo_ratio = фото { $width }×{ $height } пикс.: стороны могут различаться не больше чем в 20 раз (Telegram и ВКонтакте). Обрежьте его или отправьте документом.
media-error-video_format = видео должно быть в MP4 (его Telegram показывает как видео), а не { $format }. Сконвертируйте его или отправьте документом.
media-error-voice_format = голосовое должно быть в OGG/Opus (его Telegram и ВКонтакте проигрывают как голосовое), а не { $format }.
media-error-document_format = ВКонтакте не принимает документы { $extension } (исполняемые файлы и MP3). Упакуйте файл в ZIP-архив или выберите другой формат.
media-error-no_title = дайте файлу название.
media-error-title_too_long = название длиннее { $limit } символов.
media-error-tag_too_long = тег «{ $tag }» длиннее { $limit } символов.
media-error-too_many_tags = не больше { $limit } тегов.
media-error-title_taken = в медиатеке уже есть файл «{ $title }». Выберите другое название.
media-error-unknown = такого файла в медиатеке нет.
media-error-in_use = этот файл отправляют быстрые ответы ({ $replies }): сначала уберите его из них.

media-quick-preview = ⚡ Быстрый ответ «{ $name }» — клиент получит вот это:
    <blockquote>{ $text }</blockquote>
media-quick-preview_files = ⚡ Быстрый ответ «{ $name }» — клиент получит вот это:
    <blockquote>{ $text }</blockquote>
    📎 { $files }
media-quick-choose = ⚡ Быстрые ответы по запросу «{ $words }» — выберите:
    { $list }
media-quick-choose_more = ⚡ Быстрые ответы по запросу «{ $words }» — выберите или уточните запрос:
    { $list }
media-quick-button-send = ✅ Отправить
media-quick-button-cancel = ✖️ Отмена
media-quick-button-1 = 1
media-quick-button-2 = 2
media-quick-button-3 = 3
media-quick-button-4 = 4
media-quick-button-5 = 5
media-quick-button-6 = 6
media-quick-button-7 = 7
media-quick-button-8 = 8
media-quick-toast-sent = Отправляем клиенту…
media-quick-toast-cancelled = Отменено: клиенту ничего не ушло.
media-quick-toast-preview = Предпросмотр ниже.

media-quick-error-no_name = Дайте быстрому ответу название.
media-quick-error-name_too_long = Название длиннее { $limit } символов.
media-quick-error-name_taken = Быстрый ответ «{ $name }» уже есть.
media-quick-error-text_too_long = Текст длиннее { $limit } символов: он не поместится в одно сообщение.
media-quick-error-empty = Быстрому ответу нужен текст, файл или и то и другое.
media-quick-error-bad_media = Файлы выбираются из медиатеки.
media-quick-error-too_many_media = В одном быстром ответе не больше { $limit } файлов (предел ВКонтакте для одного сообщения).
media-quick-error-unknown = Такого быстрого ответа нет.
media-quick-error-unknown_post = Это сообщение быстрого ответа не найдено.
media-quick-error-none = Ни один быстрый ответ не подходит к «{ $words }». /q без слов покажет все.
media-quick-error-no_replies = Быстрых ответов пока нет: владелец добавляет их в мини-приложении (страница «Медиатека»).
media-quick-error-already_sent = Этот быстрый ответ уже отправлен.
media-quick-error-already_cancelled = Этот быстрый ответ отменён. Вставьте его снова через /q.
