## The shop's voice in dialog topics (core.services.voice, bot/handlers/voice.py) and customers' voice messages.

voice-cmd = speak a text in the shop's voice: /voice text
voice-offer = 🎙 The voice message has not gone to the customer. Re-voice it in the shop's voice or send it as it is?
voice-button-revoice = 🗣 Re-voice in the shop's voice
voice-button-as_is = ➡️ Send as it is
voice-button-send = ✅ Send to the customer
voice-button-redo = 🔁 Redo
voice-button-cancel = ✖️ Cancel
voice-preview = 🔊 This is how the customer will hear the shop's voice. Text:
    <blockquote>{ $text }</blockquote>
    To correct the text, reply to this message with a new one.
voice-decided-sent = ✅ Sent to the customer in the shop's voice (👍 on this message once it is delivered). Text:
    <blockquote>{ $text }</blockquote>
voice-decided-cancelled = ✖️ Cancelled: this voice message did not go to the customer. Text:
    <blockquote>{ $text }</blockquote>
voice-decided-replaced = 🔁 Replaced by a new take: this voice message will not be sent. Text:
    <blockquote>{ $text }</blockquote>
voice-offer_taken-revoice = 🗣 Re-voicing in the shop's voice: the preview follows.
voice-offer_taken-as_is = ➡️ Sent to the customer as it is.
voice-transcript = 🎙 Voice message transcript: <blockquote>{ $text }</blockquote>
voice-transcript_unavailable = 🎙 Voice transcription is unavailable: no speech recognition service is connected. The AI does not answer this voice message — please listen to it.
voice-transcript_failed = 🎙 The voice message could not be transcribed. The AI does not answer it — please listen to it.
voice-toast-working = Voicing…
voice-toast-sending = Sending to the customer…
voice-toast-cancelled = Cancelled.
voice-error-not_configured = ⚠️ The shop's voice is not set up: an ElevenLabs key and a voice are needed in the settings.
voice-error-no_transcriber = ⚠️ The voice message cannot be understood: no speech recognition service is connected. Type the text: /voice text
voice-error-transcription = ⚠️ The voice message could not be understood ({ $detail }). Type the text: /voice text
voice-error-nothing_heard = ⚠️ No words can be made out in the voice message. Type the text: /voice text
voice-error-unauthorized = ❌ ElevenLabs refused the API key (401). Check the key in the settings. { $detail }
voice-error-quota_exceeded = ❌ The ElevenLabs character quota is used up. Top up the plan or wait for the next month. { $detail }
voice-error-voice_not_found = ❌ ElevenLabs has no such voice. Choose the voice in the settings again. { $detail }
voice-error-timeout = ❌ ElevenLabs did not answer in time. Press Redo or repeat /voice a little later. { $detail }
voice-error-unreachable = ❌ ElevenLabs cannot be reached. Try again a little later. { $detail }
voice-error-too_long = ❌ The text is too long for ElevenLabs. Shorten it. { $detail }
voice-error-failed = ❌ ElevenLabs could not voice the text. { $detail }
voice-refusal-unknown = This voice message is not known.
voice-refusal-offer_used = This voice message was already dealt with.
voice-refusal-preview_sent = This voice message was already sent to the customer.
voice-refusal-preview_redone = This voice message was already redone.
voice-refusal-preview_cancelled = This voice message was cancelled.
voice-refusal-preview_replaced = A new text was already given for this voice message.
voice-refusal-empty = Type the text after the command: /voice text
voice-refusal-too_long = The text is too long: one voice message takes at most { $limit } characters.
voice-refusal-not_configured = The shop's voice is not set up: an ElevenLabs key and a voice are needed in the settings.
voice-refusal-unavailable = Voicing is unavailable right now.
