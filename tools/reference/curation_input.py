#!/usr/bin/env python3
"""Writes the small multilingual input of the curation reference test.

Output: clip/tests/data/reference/input.jsonl (committed). Each image id has one to three
alt-texts on consecutive lines, in nine languages with metadata and one (ko) without, built
from templates whose fillers are drawn with skewed weights so that a few entries are "head"
entries and most are "tail" entries, as in web alt-texts (MetaCLIP 1, arXiv 2309.16671, Fig. 2).
The edge cases of the issue appear too: punctuation next to entries, CJK and Thai inside longer
text, entries that are substrings of others, mixed scripts, surrounding Unicode whitespace,
tabs and line breaks inside texts.

Run: python3 tools/reference/curation_input.py   (deterministic: seeded)
"""
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "clip/tests/data/reference/input.jsonl"

TEMPLATES = {
    "en": [
        "a {x} on the {y}", "{x}, {y} and more!", "photo of a {x}.", "my {x} at the {y}?",
        "the {x}: {y}", "{x}\t{y}", "Black Cat on a {y}", "new york city {x}",
        "\u00a0 a black cat near {y} \u3000", "hot dog; {x}", "U.S. {x} for $5", "c++ {x} :)",
        "concatenation of {x}s", "{x}/{y}", "2 {x} 10 {y}", "t-shirt with a {x}\nprinted",
    ],
    "de": ["eine {x} am {y}", "{x}, {y}.", "Foto: {x} in München", "schwarze Katze im {y}", "Straße mit {x}"],
    "fr": ["un {x} à la {y}", "{x}, {y} !", "photo d'un chat noir", "l'été à Paris : {x}", "la {x}."],
    "es": ["un {x} en la {y}", "{x}, {y}.", "foto de un niño con {x}", "Madrid: {x}"],
    "ru": ["{x} на {y}", "{x}, {y}.", "чёрная кошка и {x}", "Москва: {x}"],
    "ar": ["{x} على {y}", "{x}، {y}", "صورة {x} في القاهرة", "غروب الشمس و{x}"],
    "ja": ["{x}と{y}の写真", "東京タワーの{x}", "{x}、{y}。", "tokyo {x} 東京", "かわいいねこ", "ねこ と {x}"],
    "zh": ["{x}和{y}", "我在东京塔下看{x}", "{x}，{y}。", "北京的{x}", "一只黑猫"],
    "th": ["{x}กับ{y}", "แมวดำนอนอยู่บน{x}", "{x} {y}", "กรุงเทพ {x}"],
    "ko": ["고양이와 {x}", "서울의 {y}"],
}

FILLERS = {
    "en": ["cat", "dog", "beach", "sunset", "car", "red car", "house", "wedding dress", "coffee cup",
           "mountain", "lake", "city", "york", "hot", "cup", "dress"],
    "de": ["Katze", "Hund", "Strand", "Haus", "Auto", "rotes Auto", "Kaffee", "Tasse", "Kleid", "Hochzeit"],
    "fr": ["chat", "chien", "plage", "maison", "voiture", "robe", "café", "tasse", "mariage"],
    "es": ["gato", "perro", "playa", "casa", "coche", "vestido", "café", "taza", "boda"],
    "ru": ["кошка", "собака", "пляж", "дом", "машина", "кофе", "платье", "свадьба"],
    "ar": ["قطة", "كلب", "شاطئ", "بيت", "سيارة", "قهوة"],
    "ja": ["猫", "黒猫", "犬", "海", "夕日", "車", "結婚式", "コーヒー", "タワー"],
    "zh": ["猫", "黑猫", "狗", "海滩", "日落", "汽车", "婚礼", "咖啡杯", "咖啡", "塔"],
    "th": ["แมว", "สุนัข", "ชายหาด", "บ้าน", "รถ", "กาแฟ", "พระอาทิตย์ตก"],
    "ko": ["바다", "자동차"],
}

LANG_WEIGHTS = {"en": 40, "de": 8, "fr": 8, "es": 6, "ru": 6, "ar": 4, "ja": 8, "zh": 8, "th": 4, "ko": 2}


def main():
    rng = random.Random(20250722)
    langs = list(LANG_WEIGHTS)
    weights = [LANG_WEIGHTS[l] for l in langs]
    lines = []
    for image in range(400):
        for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
            lang = rng.choices(langs, weights)[0]
            fillers = FILLERS[lang]
            # Zipf-like: the first fillers are drawn far more often than the last.
            zipf = [1.0 / (i + 1) ** 1.3 for i in range(len(fillers))]
            x, y = rng.choices(fillers, zipf, k=2)
            text = rng.choice(TEMPLATES[lang]).format(x=x, y=y)
            lines.append(json.dumps({"id": f"img{image:04d}", "lang": lang, "text": text}, ensure_ascii=False))
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} lines to {OUT}")


if __name__ == "__main__":
    main()
