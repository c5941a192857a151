## The media library and quick replies in the bot (core.services.media_library, core.services.quick_replies,
## bot/handlers/media.py).

media-cmd-save = save a file to the media library: send it with the caption /save name, or reply /save name to it
media-cmd-q = insert a quick reply: /q words of its name or text

media-save-usage = To save a file to the media library, send a photo, video, voice note or document with the caption <code>/save name #tag</code>, or reply <code>/save name</code> to a file you sent.
media-save-denied = Only staff whose role may manage the media library can save files.
media-save-done = ✅ Saved to the media library of «{ $tenant }»: <b>{ $title }</b> ({ $kind }, { $size } MB). It can be attached to quick replies in the Mini App.
media-save-failed = ❌ Not saved: { $reason }

media-kind-photo = photo
media-kind-video = video
media-kind-voice = voice note
media-kind-document = document

media-error-empty = the file is empty.
media-error-too_big_for_bot = the file is { $size } MB, and bots can download files of up to { $limit } MB from Telegram. Upload it in the Mini App (the media library page), up to { $upload } MB.
media-error-too_big = the file is { $size } MB: bots send files of up to { $limit } MB, so a larger file could not reach a customer.
media-error-kind = only photos, video, voice notes and documents go into the library.
media-error-audio_format = audio reaches customers as a voice note: record it as a voice message or convert it to OGG/Opus.
media-error-photo_format = a photo must be JPEG, PNG or GIF (what VK accepts for photos), not { $format }. Convert it or send it as a document.
media-error-photo_too_big = a photo is at most { $limit } MB in Telegram, this one is { $size } MB. Make it smaller or send it as a document.
media-error-photo_broken = the image cannot be read: the file is damaged or not an image.
media-error-photo_sides = the photo is { $width }×{ $height } px: Telegram takes photos whose width and height add up to at most { $limit } px. Make it smaller.
media-error-photo_ratio = the photo is { $width }×{ $height } px: its sides may differ at most 20 times (Telegram and VK). Crop it or send it as a document.
media-error-video_format = video must be MP4 (what Telegram plays as a video), not { $format }. Convert it or send it as a document.
media-error-voice_format = a voice note must be OGG/Opus (what Telegram and VK play as a voice message), not { $format }.
media-error-document_format = VK does not accept { $extension } files as documents (executables and MP3). Pack it into a ZIP archive or choose another format.
media-error-no_title = give the file a name.
media-error-title_too_long = the name is longer than { $limit } characters.
media-error-tag_too_long = the tag «{ $tag }» is longer than { $limit } characters.
media-error-too_many_tags = at most { $limit } tags.
media-error-title_taken = the library already has a file named «{ $title }». Choose another name.
media-error-unknown = there is no such file in the library.
media-error-in_use = quick replies send this file ({ $replies }): remove it from them first.

media-quick-preview = ⚡ Quick reply «{ $name }» — this is what the customer will get:
    <blockquote>{ $text }</blockquote>
media-quick-preview_files = ⚡ Quick reply «{ $name }» — this is what the customer will get:
    <blockquote>{ $text }</blockquote>
    📎 { $files }
media-quick-choose = ⚡ Quick replies for «{ $words }» — choose one:
    { $list }
media-quick-choose_more = ⚡ Quick replies for «{ $words }» — choose one, or add words to narrow the list:
    { $list }
media-quick-button-send = ✅ Send
media-quick-button-cancel = ✖️ Cancel
media-quick-button-1 = 1
media-quick-button-2 = 2
media-quick-button-3 = 3
media-quick-button-4 = 4
media-quick-button-5 = 5
media-quick-button-6 = 6
media-quick-button-7 = 7
media-quick-button-8 = 8
media-quick-toast-sent = Sending to the customer…
media-quick-toast-cancelled = Cancelled: nothing went to the customer.
media-quick-toast-preview = Preview below.

media-quick-error-no_name = Give the quick reply a name.
media-quick-error-name_too_long = The name is longer than { $limit } characters.
media-quick-error-name_taken = A quick reply named «{ $name }» already exists.
media-quick-error-text_too_long = The text is longer than { $limit } characters: it would not fit in one message.
media-quick-error-empty = A quick reply needs a text, a file or both.
media-quick-error-bad_media = Files are chosen from the media library.
media-quick-error-too_many_media = At most { $limit } files in one quick reply (VK's limit for one message).
media-quick-error-unknown = There is no such quick reply.
media-quick-error-unknown_post = This quick reply message is not known.
media-quick-error-none = No quick reply matches «{ $words }». /q without words lists them all.
media-quick-error-no_replies = There are no quick replies yet: the owner adds them in the Mini App (media library page).
media-quick-error-already_sent = This quick reply has already been sent.
media-quick-error-already_cancelled = This quick reply was cancelled. Insert it again with /q.
