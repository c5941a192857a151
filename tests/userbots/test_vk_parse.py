"""Reading VK objects: every attachment kind, unknown and broken ones kept with a note, names with any Unicode,
traffic marks from ref/ref_source and UTM links."""

from __future__ import annotations

from core.models import AttachmentKind, Direction
from sandbox.vk import synth
from userbots.vk.parse import attachment, sender_for, to_inbound, traffic_of

GROUP = 77_000_001


def test_known_attachments_are_read_from_the_vk_objects():
    raw = {kind: synth.make_attachment(kind, 501, 9, 1_700_000_000)
           for kind in ("photo", "doc", "audio_message", "sticker", "video")}
    photo, doc, voice, sticker, video = (attachment(a) for a in raw.values())
    original = raw["photo"]["photo"]["orig_photo"]
    assert (photo.kind, photo.width, photo.height) == (AttachmentKind.PHOTO, original["width"], original["height"])
    assert doc.kind == AttachmentKind.DOCUMENT and doc.file_name.endswith(".pdf") and doc.mime == "application/pdf"
    assert voice.kind == AttachmentKind.VOICE and voice.duration and voice.external_ref["url"].endswith(".ogg")
    assert sticker.kind == AttachmentKind.STICKER and sticker.width == 512
    assert video.kind == AttachmentKind.VIDEO and video.duration and video.external_ref["preview_url"]
    assert all(a.error is None for a in (photo, doc, voice, sticker, video))


def test_unknown_broken_and_oversize_attachments_are_kept_with_a_reason():
    gift = attachment({"type": "gift", "gift": {"id": 5}})
    assert gift.kind == AttachmentKind.OTHER and "gift" in gift.error and gift.external_ref["gift"] == {"id": 5}
    # malformed numbers are dropped (they would fail the batch's insert), the photo itself is kept
    broken = attachment({"type": "photo", "photo": {"sizes": [{"url": 5, "width": "wide", "height": None}, "x"]}})
    assert (broken.kind, broken.width, broken.height, broken.error) == (AttachmentKind.PHOTO, None, None, None)
    unreadable = attachment({"type": "doc", "doc": {"title": 12345, "size": "big"}})
    assert unreadable.kind == AttachmentKind.OTHER and "doc" in unreadable.error
    huge = attachment({"type": "doc", "doc": {"id": 1, "owner_id": 2, "title": "видео.mp4", "ext": "mp4",
                                              "size": 300 * 1024 * 1024, "url": "https://vk.com/doc2_1"}})
    assert huge.kind == AttachmentKind.DOCUMENT and "300 МБ" in huge.error and "50 МБ" in huge.error
    assert attachment({"type": "wall"}).error  # no body at all


def test_names_keep_their_unicode_and_lose_only_control_characters():
    for user_id in range(500_000_000, 500_000_200):
        person = synth.person(user_id)
        sender = sender_for(user_id, {user_id: person})
        assert sender.first_name == person["first_name"].strip()
    weird = sender_for(7, {7: {"first_name": "Ан\x00на\u200f", "last_name": "\u202eПетрова\x07"}})
    assert (weird.first_name, weird.last_name) == ("Анна\u200f", "\u202eПетрова")
    chat = sender_for(2_000_000_005, {2_000_000_005: {"title": None}})
    assert chat.first_name == "Беседа 5"


def test_direction_text_and_traffic():
    incoming = {"id": 10, "date": 1_700_000_000, "peer_id": 501, "from_id": 501, "text": "Цена?\x00",
                "ref": "spring_sale", "ref_source": "ads_vk_42", "attachments": []}
    message = to_inbound(1, incoming, -GROUP, {})
    assert message.direction == Direction.IN and message.text == "Цена?" and message.external_chat_id == "501"
    odd = to_inbound(1, {**incoming, "text": 12, "date": "вчера"}, -GROUP, {})
    assert odd.text == "12" and odd.sent_at.year == 1970  # kept, never a crash of the whole batch
    assert (message.traffic.ref, message.traffic.source) == ("spring_sale", "ads_vk_42")
    reply = to_inbound(1, {**incoming, "id": 11, "from_id": -GROUP, "text": "1990 ₽", "ref": None,
                           "ref_source": None}, -GROUP, {})
    assert reply.direction == Direction.OUT and reply.traffic is None
    link = traffic_of({"text": "смотрите https://shop.ru/a?utm_source=vk&utm_medium=post&UTM_CAMPAIGN=may и http://[bad",
                       "attachments": [{"type": "link", "link": {"url": "https://x.ru/?utm_content=banner2"}}]})
    assert (link.source, link.medium, link.campaign, link.content) == ("vk", "post", "may", "banner2")


def test_half_an_emoji_and_nul_do_not_break_storage():
    from userbots.cleaning import clean_name, clean_text

    assert clean_text("Привет \ud83d и всё\x00") == "Привет ? и всё"
    assert clean_name("Анна \ud83d") == "Анна ?" and clean_name(None) is None and clean_name(42) is None
