"""Deterministic synthetic VK data: people, shop dialogs, attachment objects and the media bytes behind them.

Everything is a pure function of its arguments (a blake2b hash stands in for randomness), so any message of a
seeded history can be regenerated on demand and two runs produce identical data.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import zlib

# Placeholder origin of every media URL; the server swaps in its real address when it writes a response.
BASE = "http://vk-sandbox.invalid"
T_END = 1_735_689_600  # 2025-01-01 UTC: the newest seeded conversation ends here
SPAN = 365 * 86_400  # seeded conversations spread over the year before T_END
SYNTH_PHOTO = (360, 480)  # size of generated photos (receipts)


def h(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def pick(seq, *parts):
    return seq[h(*parts) % len(seq)]


# ---------------------------------------------------------------- people

MALE = ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл", "Михаил",
        "Никита", "Иван", "Егор", "Роман", "Павел", "Тимур", "Олег", "Владимир"]
FEMALE = ["Анастасия", "Мария", "Анна", "Виктория", "Екатерина", "Наталья", "Марина", "Полина", "Дарья",
          "Алина", "Ольга", "Юлия", "Татьяна", "Ксения", "Елена", "Светлана", "Айгуль"]
LAST = ["Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
        "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
        "Никитин", "Зайцев", "Шевченко", "Ковальчук", "Ким", "Цой"]
RTL_FIRST = ["محمد", "فاطمة", "דוד", "שרה", "علي"]
CITIES = [(1, "Москва"), (2, "Санкт-Петербург"), (49, "Екатеринбург"), (99, "Новосибирск"), (60, "Казань"),
          (73, "Красноярск"), (119, "Ростов-на-Дону"), (153, "Хабаровск")]


def _feminine(last: str) -> str:
    return last + "а" if last.endswith(("ов", "ев", "ёв", "ин")) else last


def person(user_id: int) -> dict:
    """users.get object (https://dev.vk.com/ru/reference/objects/user) for any user id, stable across runs."""
    sex = 1 if h("sex", user_id) % 2 else 2
    first = pick(FEMALE if sex == 1 else MALE, "first", user_id)
    last = pick(LAST, "last", user_id)
    last = _feminine(last) if sex == 1 else last
    odd = h("odd", user_id) % 16
    if odd == 0:
        first += " " + pick(["🌸", "🔥", "😎", "✨", "🦊"], "emoji", user_id)
    elif odd == 1:  # stress mark as a combining acute accent
        k = next((n for n, c in enumerate(first) if c in "аеиоуыэюяАЕИОУЫЭЮЯ"), 0)
        first = first[: k + 1] + "\u0301" + first[k + 1:]
    elif odd == 2:  # right-to-left script
        first = pick(RTL_FIRST, "rtl", user_id)
    elif odd == 3:  # ZWJ emoji sequence
        last += " 👩‍👩‍👧"
    elif odd == 4:  # stacked combining marks
        first = first[0] + "\u0338\u031b" + first[1:]
    city_id, city = pick(CITIES, "city", user_id)
    return {
        "id": user_id, "first_name": first, "last_name": last, "can_access_closed": True, "is_closed": False,
        "sex": sex, "screen_name": f"id{user_id}", "domain": f"id{user_id}",
        "photo_50": f"{BASE}/_sandbox/media/avatar/{user_id}.png?size=50",
        "photo_100": f"{BASE}/_sandbox/media/avatar/{user_id}.png?size=100",
        "photo_200": f"{BASE}/_sandbox/media/avatar/{user_id}.png?size=200",
        "city": {"id": city_id, "title": city}, "online": 0, "verified": 0,
        "bdate": f"{1 + h('d', user_id) % 28}.{1 + h('m', user_id) % 12}.{1965 + h('y', user_id) % 40}",
        "last_seen": {"time": T_END - h("seen", user_id) % 86_400, "platform": 1 + h("pl", user_id) % 7},
    }


def community(group_id: int, name: str) -> dict:
    """groups.getById object (https://dev.vk.com/ru/reference/objects/group)."""
    return {"id": group_id, "name": name, "screen_name": f"club{group_id}", "is_closed": 0, "type": "group",
            "is_admin": 1, "admin_level": 3, "is_member": 1,
            **{f"photo_{s}": f"{BASE}/_sandbox/media/avatar/-{group_id}.png?size={s}" for s in (50, 100, 200)}}


# ---------------------------------------------------------------- dialog texts

PRODUCTS = ["кроссовки Nike Air", "куртку зимнюю", "платье миди", "рюкзак городской", "джинсы slim",
            "худи оверсайз", "ботинки Челси", "сумку кожаную", "пуховик", "футболку базовую"]
SIZES = ["XS", "S", "M", "L", "XL", "38", "40", "42", "44"]
TOPICS = {
    "price": (["Здравствуйте! Сколько стоит {p}?", "Подскажите цену на {p} в размере {s}",
               "А цена на {p} актуальная? На сайте другая"],
              ["Здравствуйте! {P} сейчас стоит {r} ₽.", "Цена {r} ₽, на сайте обновим сегодня 🙏",
               "Для вас {r} ₽, доставка бесплатная от 5000 ₽."]),
    "availability": (["Есть {p} в размере {s}?", "{P} есть в наличии?", "Когда будет поступление на {p}?"],
                     ["Да, {s} в наличии, могу отложить до завтра.", "Сейчас нет, поступление через неделю.",
                      "Остался последний размер {s}!"]),
    "shipping": (["Сколько идёт доставка в {c}?", "Отправляете СДЭКом в {c}?",
                  "Где мой заказ №{o}? Трек не обновляется"],
                 ["В {c} 3–5 дней, СДЭК или Почта.", "Заказ №{o} передан в доставку, трек пришлём в течение дня.",
                  "Да, отправляем СДЭКом, стоимость по тарифу."]),
    "return": (["Можно вернуть {p}? Не подошёл размер", "Как оформить возврат по заказу №{o}?"],
               ["Конечно, возврат в течение 14 дней. Пришлите номер заказа.",
                "Оформили возврат по №{o}, деньги придут за 3–10 дней."]),
    "discount": (["Есть скидки для постоянных покупателей?", "Промокод не срабатывает, подскажите",
                  "Будет распродажа на {p}?"],
                 ["Дарим промокод VK10 — минус 10% на заказ 🎁", "Проверили, промокод снова работает.",
                  "Распродажа с пятницы, скидки до 30%."]),
    "complaint": (["Пришёл {p} с браком 😡", "Заказ №{o} пришёл не того цвета!", "Уже неделю жду ответа!!!"],
                  ["Приносим извинения! Заменим за наш счёт.", "Очень жаль, оформим обмен, курьер заберёт.",
                   "Извините за задержку, разбираемся прямо сейчас."]),
    "other": (["Добрый вечер", "А можно оплатить при получении?", "Спасибо!", "Ок, подумаю"],
              ["Добрый вечер! Чем можем помочь?", "Да, оплата при получении возможна.",
               "Рады помочь! Хорошего дня ☀️"]),
}
TOPIC_NAMES = list(TOPICS)
ATTACH_TEXT = {"photo": ["Оплатил(а), вот чек", "Скрин оплаты", ""],
               "doc": ["Чек об оплате во вложении", "Квитанция PDF"],
               "audio_message": [""], "sticker": [""], "video": ["Вот видео, как выглядит брак", "Смотрите видео"],
               "unknown": ["", "Перевод отправил"]}
SHOP_ATTACH_TEXT = {"photo": ["Фото товара", "Вот как это выглядит", "Живое фото с нашего склада"],
                    "doc": ["Прайс-лист во вложении", "Договор оферты — в файле"]}


@functools.lru_cache(maxsize=4096)
def _facts(seed: int, i: int) -> tuple[str, dict]:
    """The topic and the details one conversation keeps talking about."""
    product = pick(PRODUCTS, seed, "product", i)
    return pick(TOPIC_NAMES, seed, "topic", i), {
        "p": product, "P": product[:1].upper() + product[1:], "s": pick(SIZES, seed, "size", i),
        "c": pick(CITIES, seed, "city", i)[1], "o": 100_000 + h(seed, "order", i) % 900_000,
        "r": 990 + h(seed, "price", i) % 90 * 100}


def text(seed: int, i: int, j: int, from_customer: bool, kind: str | None) -> str:
    topic, fill = _facts(seed, i)
    if kind:
        return pick((ATTACH_TEXT if from_customer else SHOP_ATTACH_TEXT)[kind], seed, i, j)
    qs, ans = TOPICS[topic] if h(seed, "ontopic", i, j) % 4 else TOPICS["other"]
    return pick(qs if from_customer else ans, seed, i, j).format(**fill)


def attachment_kind(seed: int, i: int, j: int, from_customer: bool) -> str:
    roll = h(seed, "kind", i, j) % 100
    if not from_customer:
        return "photo" if roll < 60 else "doc"
    for kind, upto in (("photo", 32), ("doc", 48), ("audio_message", 70), ("sticker", 84), ("video", 94)):
        if roll < upto:
            return kind
    return "unknown"


# ------------------------------------------- attachments: https://dev.vk.com/ru/reference/objects/attachments-message

PHOTO_SIZES = (("s", 75), ("m", 130), ("x", 604), ("y", 807))


def photo(owner_id: int, media_id: int, date: int, width: int = SYNTH_PHOTO[0], height: int = SYNTH_PHOTO[1],
          ext: str = "png") -> dict:
    url = f"{BASE}/_sandbox/media/photo/{owner_id}_{media_id}.{ext}"
    longest = max(width, height)
    sizes = [{"type": t, "width": max(1, width * edge // longest), "height": max(1, height * edge // longest),
              "url": f"{url}?size={t}"} for t, edge in PHOTO_SIZES if edge <= longest or t == "s"]
    return {"album_id": -3, "date": date, "id": media_id, "owner_id": owner_id,
            "access_key": access_key(owner_id, media_id),
            "sizes": sizes, "text": "", "has_tags": False,
            "orig_photo": {"type": "base", "width": width, "height": height, "url": url}}


def doc(owner_id: int, media_id: int, date: int, title: str, size: int, ext: str = "pdf") -> dict:
    # doc type 1 = text documents (pdf), 4 = images, 8 = unknown: https://dev.vk.com/ru/reference/objects/doc
    doc_type = {"pdf": 1, "txt": 1, "doc": 1, "docx": 1, "png": 4, "jpg": 4, "gif": 3, "zip": 2, "mp4": 6}.get(ext, 8)
    return {"id": media_id, "owner_id": owner_id, "title": title, "size": size, "ext": ext, "date": date,
            "type": doc_type, "url": f"{BASE}/_sandbox/media/doc/{owner_id}_{media_id}.{ext}",
            "access_key": access_key(owner_id, media_id)}


def audio_message(owner_id: int, media_id: int, duration: int, transcript: str = "") -> dict:
    base = f"{BASE}/_sandbox/media/audio_message/{owner_id}_{media_id}"
    return {"id": media_id, "owner_id": owner_id, "duration": duration,
            "waveform": [h("wave", media_id, k) % 32 for k in range(64)], "link_ogg": base + ".ogg",
            "link_mp3": base + ".mp3", "access_key": access_key(owner_id, media_id),
            "transcript": transcript, "transcript_state": "done"}


def sticker(sticker_id: int) -> dict:
    imgs = [{"url": f"{BASE}/_sandbox/media/sticker/{sticker_id}.png?size={s}", "width": s, "height": s}
            for s in (64, 128, 256, 352, 512)]
    return {"inner_type": "base_sticker_new", "product_id": 1 + sticker_id // 100, "sticker_id": sticker_id,
            "images": imgs, "images_with_background": imgs, "is_allowed": True}


def video(owner_id: int, media_id: int, date: int, duration: int) -> dict:
    return {"id": media_id, "owner_id": owner_id, "title": "Видео от покупателя", "description": "",
            "duration": duration, "date": date, "comments": 0, "views": 1, "type": "video", "can_add": 1,
            "access_key": access_key(owner_id, media_id),
            "image": [{"url": f"{BASE}/_sandbox/media/photo/{owner_id}_{media_id}.png?size={w}", "width": w,
                       "height": w * 9 // 16, "with_padding": 1} for w in (320, 800)],
            "player": f"{BASE}/_sandbox/media/video/{owner_id}_{media_id}.html"}


def unknown(owner_id: int, media_id: int, date: int) -> dict:
    """An attachment type the product should not understand: skip it, never crash on it."""
    kind = pick(["gift", "mini_app", "money_transfer"], "unknown", media_id)
    body = {
        "gift": {"id": 200 + media_id % 50, "thumb_48": f"{BASE}/_sandbox/media/photo/0_{media_id}.png?size=48",
                 "thumb_96": f"{BASE}/_sandbox/media/photo/0_{media_id}.png?size=96"},
        "mini_app": {"app": {"id": 7_000_000 + media_id % 1000, "title": "Мини-приложение"}, "title": "Открыть"},
        "money_transfer": {"id": media_id, "from_id": owner_id, "to_id": 0, "date": date,
                           "amount": {"amount": str(10_000 + media_id % 90 * 1000),
                                      "currency": {"id": 643, "name": "RUB"},
                                      "text": f"{100 + media_id % 90 * 10} ₽"}},
    }[kind]
    return {"type": kind, kind: body}


def voice_duration(media_id: int) -> int:
    return 2 + h("dur", media_id) % 30


def access_key(owner_id: int, media_id: int) -> str:
    return format(h("ak", owner_id, media_id), "016x")[:18]


def make_attachment(kind: str, owner_id: int, media_id: int, date: int) -> dict:
    """A complete message attachment ({"type": kind, kind: {...}}) for a synthetic or live message."""
    if kind == "photo":
        return {"type": "photo", "photo": photo(owner_id, media_id, date)}
    if kind == "doc":
        titles = ["Чек.pdf", "receipt.pdf", "Квитанция об оплате.pdf"] if owner_id > 0 else ["Прайс.pdf", "Оферта.pdf"]
        title = pick(titles, "title", media_id)
        return {"type": "doc", "doc": doc(owner_id, media_id, date, title, len(pdf_bytes(owner_id, media_id)))}
    if kind == "audio_message":
        return {"type": "audio_message", "audio_message": audio_message(owner_id, media_id, voice_duration(media_id))}
    if kind == "sticker":
        return {"type": "sticker", "sticker": sticker(1 + h("st", media_id) % 5000)}
    if kind == "video":
        return {"type": "video", "video": video(owner_id, media_id, date, 5 + h("dur", media_id) % 60)}
    return unknown(owner_id, media_id, date)


# ---------------------------------------------------------------- media bytes

def png(width: int, height: int, key: int) -> bytes:
    """A real PNG: a tinted 'receipt' with printed lines, unique per key."""
    tint = (200 + key % 56, 200 + key // 56 % 56, 200 + key // 3136 % 56)
    rows = []
    for y in range(height):
        line = y % 14 < 3 and 8 < y < height - 8
        px = bytes((60, 60, 60)) if line else bytes(tint)
        rows.append(b"\x00" + px * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"".join(rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def pdf_bytes(owner_id: int, media_id: int) -> bytes:
    """A valid one-page PDF receipt (ASCII text, standard Helvetica font)."""
    amount = 990 + h("amount", owner_id, media_id) % 90 * 100
    stream = f"BT /F1 14 Tf 40 780 Td (Receipt No. {media_id}) Tj 0 -24 Td (Amount: {amount} RUB) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def _ogg_crc_table() -> list[int]:
    table = []
    for n in range(256):
        r = n << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def _ogg_page(packets: list[bytes], seq: int, granule: int, flags: int, serial: int) -> bytes:
    lacing = b"".join(bytes([255] * (len(p) // 255) + [len(p) % 255]) for p in packets)
    header = b"OggS" + struct.pack("<BBqIII", 0, flags, granule, serial, seq, 0) + bytes([len(lacing)])
    page = bytearray(header + lacing)
    page += b"".join(packets)
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[((crc >> 24) ^ byte) & 0xFF]
    page[22:26] = struct.pack("<I", crc)
    return bytes(page)


def ogg_opus(duration: int, serial: int) -> bytes:
    """A valid Ogg/Opus voice note of `duration` seconds of silence (20 ms CELT silence frames)."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48_000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 11) + b"vk-sandbox " + struct.pack("<I", 0)
    pages = [_ogg_page([head], 0, 0, 0x02, serial), _ogg_page([tags], 1, 0, 0, serial)]
    frames, per_page = duration * 50, 50
    for n, start in enumerate(range(0, frames, per_page)):
        count = min(per_page, frames - start)
        last = start + count >= frames
        pages.append(_ogg_page([b"\xf8\xff\xfe"] * count, n + 2, (start + count) * 960, 0x04 if last else 0, serial))
    return b"".join(pages)


def ogg_duration(data: bytes) -> int:
    """Whole seconds of an Ogg/Opus stream: the granule position of its last page at 48 kHz."""
    at = data.rfind(b"OggS")
    if at < 0 or len(data) < at + 14:
        return max(1, len(data) // 4000)
    return max(1, round(struct.unpack("<q", data[at + 6:at + 14])[0] / 48_000))


def mp3_silence(duration: int) -> bytes:
    """MPEG-1 Layer III, 128 kbit/s, 44.1 kHz frames of silence (417 bytes, 1152 samples each)."""
    frame = b"\xff\xfb\x90\x64" + bytes(413)
    return frame * max(1, duration * 44_100 // 1152)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG, read from its header."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"\xff\xd8":
        k = 2
        while k + 9 < len(data):
            if data[k] != 0xFF:
                return None
            marker, length = data[k + 1], struct.unpack(">H", data[k + 2:k + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                height, width = struct.unpack(">HH", data[k + 5:k + 9])
                return width, height
            k += 2 + length
    return None
