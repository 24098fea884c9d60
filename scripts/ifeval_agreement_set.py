#!/usr/bin/env python3
"""Writes the IFEval agreement response set: responses that pass and fail every checker in
interesting ways (abbreviations, decimals, ellipses, quotes, bullet styles, JSON fences, mixed
case, contractions, short texts for langdetect, non-Latin scripts ...).

For the NLTK-based checkers the thresholds sit on both sides of the reference's own count (so an
off-by-one in the Swift splitter or tokenizer flips a verdict); the count comes from NLTK with the
punkt English model, set up as scripts/ifeval_reference.py does. The verdicts themselves are
written by scripts/ifeval_reference.py, not here.

  python3 scripts/ifeval_agreement_set.py Tests/EvaluationTests/Fixtures/ifeval_agreement_responses.jsonl
  python3 scripts/ifeval_reference.py Tests/EvaluationTests/Fixtures/ifeval_agreement_responses.jsonl \
      Tests/EvaluationTests/Fixtures/ifeval_agreement_reference.jsonl
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ifeval_reference  # noqa: E402

SENTENCE_TEXTS = [
    "Mr. Smith met Dr. Jones at 5 p.m. on Main St. They talked about the U.S. economy. It was fine.",
    "Some fruits, e.g. apples and pears, are sweet. Others, i.e. lemons, are sour. We eat them etc. and more.",
    "The price rose 3.5 percent to $10.25. Analysts expected 2.1. Nobody was surprised.",
    "Well... I am not sure. Wait... What now? Hmm... the end.",
    'He said "Stop." Then he left. "Why?" she asked. (It was late.) Fine!',
    "Here is the plan:\n1. Buy milk.\n2. Walk the dog.\n3. Sleep.\n",
    "* First point.\n* Second point!\n- Third point?\n",
    "The book by J. R. R. Tolkien is long. J. Smith disagrees. Plan B. Then we go.",
    "Wow! Really?! Yes. No!!! Okay?",
    "Line one without period\nLine two without period\n\nParagraph two. Ends here",
    "In 2023. The year ended. Chapter 3. the end. Version 2.0 is out.",
    "Visit www.example.com. Or email me at a.b@c.com. Thanks.",
    "**Title**\n\nThis is *important*. Read it twice.\n\n## Section 2\nMore text here. Done.",
    "Just one sentence without end",
    "Is this it? Yes: it is. Really; sure. Done.",
    "We met the CEO of Acme Inc. The meeting went well. He works at Foo Corp. in Ohio. It is big.",
    "On Jan. 5 we left. On Mar. 3 we came back. It was Sept. The end.",
    "The U.S. Army arrived. The U.K. followed. Both left at 9 a.m. Everyone cheered.",
    "She scored 9.5/10. He scored 7. They both passed the test.",
    "“Hello,” she said. ‘Goodbye.’ He smiled.",
    "I like cats. i like dogs. you like birds.",
    "First sentence.Second sentence without space. Third one.",
    "A. B. C. are letters. Section A. It starts here.",
    "Prof. Brown and Mrs. White arrived. St. Louis is nice. Gen. Lee left.",
    "This is a very long sentence that goes on and on, with commas, semicolons; and even dashes -- but it never really stops until here.",
    "Short. Shorter. Shortest. Done. End.",
    "What?! No way... Yes way. OK.",
    "P.S. I love you. P.P.S. Me too.",
    "Results: (a) good. (b) bad. (c) ugly.",
    "It costs 5 USD. That is cheap! Is it? Yes.",
]

CAPITAL_TEXTS = [
    "DON'T STOP BELIEVING in the power of MUSIC.",
    "NASA and the U.S. Army agreed with the UN on Monday.",
    "I think AI is OK, but ML is HARD.",
    "Use HTML, CSS, and JS for the WEB.",
    "The WHO said COVID-19 is still a THREAT.",
    "CAN'T WON'T GONNA WANNA CANNOT",
    "ÉTÉ À PARIS WAS GREAT.",
    "Mixed CamelCase iPhone eBay McDonald's.",
    "A B C d e F",
    "\"HELLO\" (WORLD) [TEST] {OK}",
    "HELLO...WORLD and HELLO--WORLD",
    "E.G. I.E. ETC. are ABBREVIATIONS.",
    "R2-D2 is 100% FINE; C-3PO is not.",
    "x-RAY X-RAY X-ray",
    "I'M HERE. YOU'RE THERE. WE'LL SEE. IT'S NASA'S.",
    "THE END. THE BEGINNING. THE MIDDLE?",
    "IMPORTANT: READ THIS NOW!",
    "no capitals at all here",
    "ALL CAPS SENTENCE WITH MANY WORDS IN IT FOR COUNTING PURPOSES",
    "Tom's BMW and Ann's VW, plus JOHN'S FORD.",
]

LANGUAGE_TEXTS = {
    "en": "The weather today is pleasant, and many people are walking in the park with their families.",
    "hi": "आज मौसम बहुत अच्छा है और लोग अपने परिवार के साथ पार्क में घूम रहे हैं। यह एक सुंदर दिन है।",
    "mr": "आज हवामान खूप छान आहे आणि लोक आपल्या कुटुंबासोबत बागेत फिरत आहेत. हा एक सुंदर दिवस आहे.",
    "ne": "आज मौसम धेरै राम्रो छ र मानिसहरू आफ्नो परिवारसँग पार्कमा घुमिरहेका छन्। यो एक सुन्दर दिन हो।",
    "kn": "ಇಂದು ಹವಾಮಾನ ತುಂಬಾ ಚೆನ್ನಾಗಿದೆ ಮತ್ತು ಜನರು ತಮ್ಮ ಕುಟುಂಬದೊಂದಿಗೆ ಉದ್ಯಾನದಲ್ಲಿ ನಡೆಯುತ್ತಿದ್ದಾರೆ.",
    "pa": "ਅੱਜ ਮੌਸਮ ਬਹੁਤ ਵਧੀਆ ਹੈ ਅਤੇ ਲੋਕ ਆਪਣੇ ਪਰਿਵਾਰ ਨਾਲ ਪਾਰਕ ਵਿੱਚ ਘੁੰਮ ਰਹੇ ਹਨ।",
    "gu": "આજે હવામાન ખૂબ સરસ છે અને લોકો તેમના પરિવાર સાથે બગીચામાં ફરી રહ્યા છે.",
    "te": "ఈ రోజు వాతావరణం చాలా బాగుంది మరియు ప్రజలు తమ కుటుంబాలతో పార్కులో నడుస్తున్నారు.",
    "ta": "இன்று வானிலை மிகவும் நன்றாக உள்ளது, மக்கள் தங்கள் குடும்பத்துடன் பூங்காவில் நடந்து செல்கிறார்கள்.",
    "bn": "আজ আবহাওয়া খুব সুন্দর এবং মানুষ তাদের পরিবারের সাথে পার্কে হাঁটছে।",
    "ur": "آج موسم بہت اچھا ہے اور لوگ اپنے خاندان کے ساتھ پارک میں گھوم رہے ہیں۔ یہ ایک خوبصورت دن ہے۔",
    "fa": "امروز هوا بسیار خوب است و مردم با خانواده خود در پارک قدم می زنند. این یک روز زیبا است.",
    "ar": "الطقس اليوم جميل جدا والناس يمشون في الحديقة مع عائلاتهم. هذا يوم رائع.",
    "ru": "Сегодня погода очень хорошая, и многие люди гуляют в парке со своими семьями.",
    "bg": "Днес времето е много хубаво и много хора се разхождат в парка със своите семейства.",
    "ko": "오늘 날씨가 정말 좋아서 많은 사람들이 가족과 함께 공원을 산책하고 있습니다.",
    "th": "วันนี้อากาศดีมาก และผู้คนจำนวนมากกำลังเดินเล่นในสวนสาธารณะกับครอบครัวของพวกเขา",
    "vi": "Hôm nay thời tiết rất đẹp và nhiều người đang đi dạo trong công viên cùng gia đình của họ.",
    "sw": "Leo hali ya hewa ni nzuri sana na watu wengi wanatembea katika bustani pamoja na familia zao.",
    "de": "Heute ist das Wetter sehr schön und viele Menschen gehen mit ihren Familien im Park spazieren.",
    "pt": "Hoje o tempo está muito bom e muitas pessoas estão passeando no parque com as suas famílias.",
    "it": "Oggi il tempo è molto bello e molte persone stanno passeggiando nel parco con le loro famiglie.",
    "fi": "Tänään sää on todella kaunis ja monet ihmiset kävelevät puistossa perheidensä kanssa.",
    "fr": "Aujourd'hui le temps est très beau et beaucoup de gens se promènent dans le parc avec leur famille.",
    "es": "Hoy el tiempo es muy bueno y mucha gente está paseando por el parque con sus familias.",
    "nl": "Vandaag is het weer erg mooi en veel mensen wandelen met hun familie in het park.",
    "ja": "今日はとても良い天気で、多くの人が家族と一緒に公園を散歩しています。",
    "zh-cn": "今天天气很好，很多人和家人一起在公园里散步。",
}


def row(rows, instruction_id, kwargs, response, prompt="Answer the question."):
    rows.append({"id": f"{len(rows):04d}", "prompt": prompt, "instruction_id_list": [instruction_id],
                 "kwargs": [kwargs], "response": response})


def boundary(rows, instruction_id, count, text, key, relation_key):
    """Four instances around the reference's own count: less than count+1 / count, at least count / count+1."""
    for relation, n in [("less than", count + 1), ("less than", count), ("at least", count), ("at least", count + 1)]:
        if n >= 1:
            row(rows, instruction_id, {key: n, relation_key: relation}, text)


def main():
    out = sys.argv[1]
    ifeval_reference.ensure_venv(os.environ.get("IFEVAL_VENV", os.path.join(os.path.dirname(__file__), "..", ".venv")))
    ifeval_reference.load_checkers()
    import nltk

    rows = []
    for text in SENTENCE_TEXTS:
        boundary(rows, "length_constraints:number_sentences", len(nltk.sent_tokenize(text)), text, "num_sentences", "relation")
    for text in CAPITAL_TEXTS:
        count = sum(1 for w in nltk.word_tokenize(text) if w.isupper())
        boundary(rows, "change_case:capital_word_frequency", count, text, "capital_frequency", "capital_relation")

    capitals = [
        "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG. IT WAS A SUNNY DAY IN THE PARK AND EVERYONE WAS HAPPY.",
        "WATER IS ESSENTIAL FOR LIFE ON EARTH BECAUSE ALL LIVING THINGS NEED IT TO SURVIVE AND GROW.",
        "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG. It was a sunny day.",
        "LE TEMPS EST TRÈS BEAU AUJOURD'HUI ET BEAUCOUP DE GENS SE PROMÈNENT DANS LE PARC AVEC LEUR FAMILLE.",
        "HEUTE IST DAS WETTER SEHR SCHÖN UND VIELE MENSCHEN GEHEN MIT IHREN FAMILIEN IM PARK SPAZIEREN.",
        "12345 678",
        "**MY ANSWER**\n\nTHE MEETING WILL START AT 10 AM AND WE WILL DISCUSS THE BUDGET FOR NEXT YEAR.",
        "Here is my answer:\nTHE MEETING WILL START AT 10 AM AND WE WILL DISCUSS THE BUDGET FOR NEXT YEAR.",
        "I AM HAPPY",
        "OK",
    ]
    capitals += [
        "DEAR HIRING MANAGER,\n\nI AM WRITING TO APPLY FOR THE POSITION OF DATA ANALYST AT YOUR COMPANY. I HAVE FIVE YEARS OF EXPERIENCE.\n\nSINCERELY,\nJOHN",
        "HERE ARE THREE TIPS:\n1. DRINK MORE WATER EVERY DAY.\n2. SLEEP AT LEAST 8 HOURS.\n3. TAKE A WALK AFTER LUNCH.",
        "THE CAPITAL OF FRANCE IS PARIS. IT IS KNOWN FOR THE EIFFEL TOWER, WHICH WAS BUILT IN 1889.",
        "THE RESULT IS 10x BETTER THAN LAST YEAR, AND THE TEAM IS VERY PROUD OF THE WORK THEY HAVE DONE.",
        "P.S. THANK YOU FOR READING THIS LETTER. I HOPE TO HEAR FROM YOU SOON ABOUT THE NEXT STEPS.",
        "*THE* MOST IMPORTANT THING IS TO STAY CALM AND KEEP WORKING ON THE PROBLEM UNTIL IT IS SOLVED.",
        "WHY IS THE SKY BLUE? BECAUSE SUNLIGHT IS SCATTERED BY THE AIR, AND BLUE LIGHT IS SCATTERED THE MOST.",
        "A LIMERICK:\nTHERE ONCE WAS A CAT FROM PERU\nWHO DREAMED SHE WAS EATING A SHOE\nSHE WOKE WITH A FRIGHT\nIN THE MIDDLE OF THE NIGHT",
    ]
    for text in capitals:
        row(rows, "change_case:english_capital", {}, text)
    lowers = [
        "the quick brown fox jumps over the lazy dog. it was a sunny day in the park and everyone was happy.",
        "water is essential for life on earth because all living things need it to survive and grow.",
        "the quick brown fox jumps over the lazy dog. It was a sunny day.",
        "hoy el tiempo es muy bueno y mucha gente está paseando por el parque con sus familias.",
        "heute ist das wetter sehr schön und viele menschen gehen mit ihren familien im park spazieren.",
        "Sure, here you go:\nthe meeting will start at ten and we will discuss the budget for next year.",
        "*the answer* is simple: we should plant more trees in every city to keep the air clean.",
        "12345",
        "i love pizza",
        "hello",
    ]
    lowers += [
        "dear hiring manager,\n\ni am writing to apply for the position of data analyst at your company. i have five years of experience.\n\nsincerely,\njohn",
        "here are three tips:\n1. drink more water every day.\n2. sleep at least 8 hours.\n3. take a walk after lunch.",
        "the capital of france is paris. it is known for the eiffel tower, which was built in 1889.",
        "the capital of France is paris. it is known for the eiffel tower, which was built in 1889.",
        "the result is 10x better than last year, and the team is very proud of the work they have done.",
        "p.s. thank you for reading this letter. i hope to hear from you soon about the next steps.",
        "why is the sky blue? because sunlight is scattered by the air, and blue light is scattered the most.",
        "a limerick:\nthere once was a cat from peru\nwho dreamed she was eating a shoe\nshe woke with a fright\nin the middle of the night",
    ]
    for text in lowers:
        row(rows, "change_case:english_lowercase", {}, text)

    for code, text in LANGUAGE_TEXTS.items():
        if code not in ("nl", "zh-cn"):  # not in Google's LANGUAGE_CODES
            row(rows, "language:response_language", {"language": code}, text)
    for asked, given in [("hi", "en"), ("mr", "hi"), ("hi", "mr"), ("hi", "ne"), ("ar", "ur"), ("ur", "fa"), ("fa", "ar"),
                         ("bg", "ru"), ("ru", "bg"), ("it", "pt"), ("pt", "es"), ("de", "nl"), ("fi", "en"), ("sw", "en"),
                         ("ko", "ja"), ("en", "zh-cn"), ("vi", "fr"), ("en", "de")]:
        row(rows, "language:response_language", {"language": asked}, LANGUAGE_TEXTS[given])
    # Answers shaped like model output (markdown, numbers, a Latin brand name) in each language of input_data.jsonl.
    shaped = {
        "hi": "**भारत की राजधानी**\n\nभारत की राजधानी नई दिल्ली है। यह शहर 1911 से राजधानी है और यहाँ Google जैसी कंपनियों के दफ़्तर भी हैं।\n\n* लाल किला\n* इंडिया गेट",
        "mr": "**महाराष्ट्राची राजधानी**\n\nमहाराष्ट्राची राजधानी मुंबई आहे. हे शहर खूप मोठे आहे आणि येथे अनेक कंपन्यांची कार्यालये आहेत.\n\n* गेटवे ऑफ इंडिया\n* मरीन ड्राइव्ह",
        "ne": "**नेपालको राजधानी**\n\nनेपालको राजधानी काठमाडौं हो। यो शहर धेरै पुरानो छ र यहाँ धेरै मन्दिरहरू छन्।\n\n* पशुपतिनाथ\n* स्वयम्भू",
        "kn": "**ಕರ್ನಾಟಕದ ರಾಜಧಾನಿ**\n\nಕರ್ನಾಟಕದ ರಾಜಧಾನಿ ಬೆಂಗಳೂರು. ಈ ನಗರದಲ್ಲಿ 1 ಕೋಟಿಗಿಂತ ಹೆಚ್ಚು ಜನರು ವಾಸಿಸುತ್ತಾರೆ ಮತ್ತು Infosys ನಂತಹ ಕಂಪನಿಗಳಿವೆ.",
        "pa": "**ਪੰਜਾਬ ਦੀ ਰਾਜਧਾਨੀ**\n\nਪੰਜਾਬ ਦੀ ਰਾਜਧਾਨੀ ਚੰਡੀਗੜ੍ਹ ਹੈ। ਇਹ ਸ਼ਹਿਰ 1953 ਵਿੱਚ ਬਣਾਇਆ ਗਿਆ ਸੀ ਅਤੇ ਬਹੁਤ ਸਾਫ਼ ਹੈ।",
        "gu": "**ગુજરાતની રાજધાની**\n\nગુજરાતની રાજધાની ગાંધીનગર છે. આ શહેર 1960 પછી બનાવવામાં આવ્યું હતું અને ખૂબ હરિયાળું છે.",
        "te": "**తెలంగాణ రాజధాని**\n\nతెలంగాణ రాజధాని హైదరాబాద్. ఈ నగరం 400 సంవత్సరాల పురాతనమైనది మరియు బిర్యానీకి ప్రసిద్ధి.",
        "ta": "**தமிழ்நாட்டின் தலைநகரம்**\n\nதமிழ்நாட்டின் தலைநகரம் சென்னை. இந்த நகரம் கடற்கரைக்கு பெயர் பெற்றது மற்றும் 1639 இல் நிறுவப்பட்டது.",
        "bn": "**বাংলাদেশের রাজধানী**\n\nবাংলাদেশের রাজধানী ঢাকা। এই শহরে ২ কোটির বেশি মানুষ বাস করে এবং এটি খুব ব্যস্ত।",
        "ur": "**پاکستان کا دارالحکومت**\n\nپاکستان کا دارالحکومت اسلام آباد ہے۔ یہ شہر 1960 کی دہائی میں بنایا گیا تھا اور بہت خوبصورت ہے۔",
        "fa": "**پایتخت ایران**\n\nپایتخت ایران تهران است. این شهر بیش از 8 میلیون نفر جمعیت دارد و کوه های البرز در شمال آن قرار دارند.",
        "ar": "**عاصمة مصر**\n\nعاصمة مصر هي القاهرة. يعيش في هذه المدينة أكثر من 20 مليون شخص وهي من أكبر المدن في العالم.",
        "ru": "**Столица России**\n\nСтолица России — Москва. В этом городе живёт более 12 миллионов человек, и здесь находится Кремль.",
        "bg": "**Столицата на България**\n\nСтолицата на България е София. Градът е основан преди повече от 2000 години и е известен с планината Витоша.",
        "ko": "**한국의 수도**\n\n한국의 수도는 서울입니다. 이 도시에는 약 1000만 명이 살고 있으며 Samsung 같은 회사들이 있습니다.",
        "th": "**เมืองหลวงของประเทศไทย**\n\nเมืองหลวงของประเทศไทยคือกรุงเทพมหานคร เมืองนี้มีประชากรมากกว่า 10 ล้านคน",
        "vi": "**Thủ đô của Việt Nam**\n\nThủ đô của Việt Nam là Hà Nội. Thành phố này có hơn 1000 năm lịch sử và rất nổi tiếng với phở.",
        "sw": "**Mji mkuu wa Kenya**\n\nMji mkuu wa Kenya ni Nairobi. Jiji hili lina watu zaidi ya milioni 4 na ni kitovu cha biashara katika Afrika Mashariki.",
        "de": "**Die Hauptstadt von Deutschland**\n\nDie Hauptstadt von Deutschland ist Berlin. Die Stadt hat mehr als 3 Millionen Einwohner und ist für ihre Geschichte bekannt.",
        "pt": "**A capital do Brasil**\n\nA capital do Brasil é Brasília. A cidade foi inaugurada em 1960 e é conhecida pela sua arquitetura moderna.",
        "it": "**La capitale d'Italia**\n\nLa capitale d'Italia è Roma. La città ha quasi 3 milioni di abitanti ed è famosa per il Colosseo e per la sua storia.",
        "fi": "**Suomen pääkaupunki**\n\nSuomen pääkaupunki on Helsinki. Kaupungissa asuu noin 650 000 ihmistä, ja se tunnetaan merellisestä sijainnistaan.",
    }
    for code, text in shaped.items():
        row(rows, "language:response_language", {"language": code}, text)
    row(rows, "language:response_language", {"language": "hi"},
        "यह उत्तर हिंदी में है, लेकिन इसमें कुछ English words भी हैं जैसे computer और internet, फिर भी यह हिंदी है।")
    row(rows, "language:response_language", {"language": "ru"}, "12345 !!! ???")
    row(rows, "language:response_language", {"language": "en"},
        "Here is the translation:\n" + LANGUAGE_TEXTS["en"] + "\n" + LANGUAGE_TEXTS["en"])

    # The 20 checkers without NLTK or langdetect, on their edge cases.
    row(rows, "keywords:existence", {"keywords": ["apple", "pie"]}, "An APPLE pie.")
    row(rows, "keywords:existence", {"keywords": ["apple", "pie"]}, "pineapples and pies")
    row(rows, "keywords:existence", {"keywords": ["apple", "pie"]}, "apple only")
    row(rows, "keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "at least"}, "Cat, cat.")
    row(rows, "keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "less than"}, "concatenate a cat")
    row(rows, "keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "less than"}, "one cat")
    row(rows, "keywords:forbidden_words", {"forbidden_words": ["bad", "evil"]}, "badly done but fine")
    row(rows, "keywords:forbidden_words", {"forbidden_words": ["bad", "evil"]}, "not BAD.")
    row(rows, "keywords:letter_frequency", {"letter": "a", "let_frequency": 3, "let_relation": "at least"}, "bAnAna")
    row(rows, "keywords:letter_frequency", {"letter": "a", "let_frequency": 3, "let_relation": "less than"}, "banana")
    row(rows, "length_constraints:number_words", {"num_words": 5, "relation": "less than"}, "don't stop-me now")
    row(rows, "length_constraints:number_words", {"num_words": 5, "relation": "at least"}, "one two three four five")
    row(rows, "length_constraints:number_words", {"num_words": 5, "relation": "at least"}, "naïve café, 3.5 ok")
    row(rows, "length_constraints:number_paragraphs", {"num_paragraphs": 2}, "a\n***\nb")
    row(rows, "length_constraints:number_paragraphs", {"num_paragraphs": 2}, "***a *** b***")
    row(rows, "length_constraints:number_paragraphs", {"num_paragraphs": 2}, "a *** *** b")
    row(rows, "length_constraints:number_paragraphs", {"num_paragraphs": 3}, "a\n\n***\n\nb\n***\nc")
    row(rows, "length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "hello"},
        "First.\n\n\"Hello, world")
    row(rows, "length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "hello"},
        "First.\n\nGoodbye")
    row(rows, "length_constraints:nth_paragraph_first_word", {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "hello"},
        "a\n\nhello\n\n\n\nc")
    row(rows, "detectable_content:number_placeholders", {"num_placeholders": 2}, "[name] at [address]")
    row(rows, "detectable_content:number_placeholders", {"num_placeholders": 2}, "[name] only [")
    row(rows, "detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi.\np.s. bye")
    row(rows, "detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi.\nPS bye")
    row(rows, "detectable_content:postscript", {"postscript_marker": "P.P.S"}, "x\nP. P. S. more")
    row(rows, "detectable_format:number_bullet_lists", {"num_bullets": 3}, "* a\n- b\n  * c")
    row(rows, "detectable_format:number_bullet_lists", {"num_bullets": 2}, "** bold\n* a\n* b")
    row(rows, "detectable_format:number_bullet_lists", {"num_bullets": 2}, "1. a\n2. b")
    row(rows, "detectable_format:constrained_response", {}, "Well. My answer is maybe.")
    row(rows, "detectable_format:constrained_response", {}, "My answer is Yes.")
    row(rows, "detectable_format:number_highlighted_sections", {"num_highlights": 2}, "**bold** and *it*")
    row(rows, "detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and ** **")
    row(rows, "detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2}, "Section 1\na\nSection 2\nb")
    row(rows, "detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2}, "SECTION 1 only")
    row(rows, "detectable_format:json_format", {}, "```json\n{\"a\": [1, 2]}\n```")
    row(rows, "detectable_format:json_format", {}, "```JSON\n{\"a\": 1}\n```")
    row(rows, "detectable_format:json_format", {}, "Here is JSON: {\"a\": 1}")
    row(rows, "detectable_format:json_format", {}, "{'a': 1}")
    row(rows, "detectable_format:title", {}, "<<My Title>>\ntext")
    row(rows, "detectable_format:title", {}, "<< >> and <<a\nb>>")
    row(rows, "combination:two_responses", {}, "one\n******\ntwo")
    row(rows, "combination:two_responses", {}, "same ****** same")
    row(rows, "combination:repeat_prompt", {"prompt_to_repeat": "Say hi."}, "say HI. Hello!", prompt="Say hi.")
    row(rows, "combination:repeat_prompt", {"prompt_to_repeat": "Say hi."}, "Hello. Say hi.", prompt="Say hi.")
    row(rows, "startend:end_checker", {"end_phrase": "Is there anything else?"}, "Done. is there anything else?\"  ")
    row(rows, "startend:end_checker", {"end_phrase": "Is there anything else?"}, "Is there anything else? Yes.")
    row(rows, "startend:quotation", {}, " \"quoted\" ")
    row(rows, "startend:quotation", {}, "Sure:\n\"quoted\"")
    row(rows, "punctuation:no_comma", {}, "no commas here")
    row(rows, "punctuation:no_comma", {}, "one, two")
    row(rows, "punctuation:no_comma", {}, "   ")

    # More edge cases of the exact checkers.
    row(rows, "keywords:existence", {"keywords": ["c++", "AI"]}, "I like C++ and ai.")
    row(rows, "keywords:existence", {"keywords": ["new york"]}, "New  York is big")
    row(rows, "keywords:frequency", {"keyword": "the", "frequency": 3, "relation": "at least"}, "The theme of the other theatre")
    row(rows, "keywords:frequency", {"keyword": "data", "frequency": 2, "relation": "less than"}, "DATA, data and metadata")
    row(rows, "keywords:forbidden_words", {"forbidden_words": ["cat"]}, "Cats and catalogues")
    row(rows, "keywords:forbidden_words", {"forbidden_words": ["cat"]}, "a cat's toy")
    row(rows, "keywords:letter_frequency", {"letter": "Z", "let_frequency": 2, "let_relation": "at least"}, "Zigzag")
    row(rows, "keywords:letter_frequency", {"letter": "e", "let_frequency": 1, "let_relation": "less than"}, "ÉTÉ")
    row(rows, "length_constraints:number_words", {"num_words": 4, "relation": "at least"}, "e-mail me@x.com now")
    row(rows, "length_constraints:number_words", {"num_words": 3, "relation": "less than"}, "   ")
    row(rows, "length_constraints:number_words", {"num_words": 3, "relation": "at least"}, "日本語 テキスト です")
    row(rows, "length_constraints:number_paragraphs", {"num_paragraphs": 1}, "just one\n\nbut two blocks")
    row(rows, "length_constraints:number_paragraphs", {"num_paragraphs": 2}, "a\n* * *\nb")
    row(rows, "length_constraints:number_paragraphs", {"num_paragraphs": 2}, "a****b")
    row(rows, "length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "dear"},
        "'Dear, friend.\n\nBye")
    row(rows, "length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "summary"},
        "Intro\n\n**Summary** here")
    row(rows, "detectable_content:number_placeholders", {"num_placeholders": 1}, "[]")
    row(rows, "detectable_content:number_placeholders", {"num_placeholders": 2}, "[a\nb] [c]")
    row(rows, "detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi.\n\nP.S.: see you")
    row(rows, "detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi.\nP.P.S. bye")
    row(rows, "detectable_content:postscript", {"postscript_marker": "P.P.S"}, "x\nPPS more")
    row(rows, "detectable_format:number_bullet_lists", {"num_bullets": 2}, "- a\n-- b")
    row(rows, "detectable_format:number_bullet_lists", {"num_bullets": 2}, "*a\n*b")
    row(rows, "detectable_format:number_bullet_lists", {"num_bullets": 3}, "• a\n• b\n• c")
    row(rows, "detectable_format:number_bullet_lists", {"num_bullets": 2}, "Intro\n\n* **Bold** first\n* second\n")
    row(rows, "detectable_format:constrained_response", {}, "  My answer is no.  ")
    row(rows, "detectable_format:constrained_response", {}, "my answer is yes.")
    row(rows, "detectable_format:number_highlighted_sections", {"num_highlights": 1}, "*a\nb*")
    row(rows, "detectable_format:number_highlighted_sections", {"num_highlights": 3}, "*a* *b* **c**")
    row(rows, "detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2}, "Section 1: a\nsection 2: b")
    row(rows, "detectable_format:multiple_sections", {"section_spliter": "PARAGRAPH", "num_sections": 2}, "PARAGRAPH 1\na\nPARAGRAPH 2\nb")
    row(rows, "detectable_format:json_format", {}, "```\n[1, 2, 3]\n```")
    row(rows, "detectable_format:json_format", {}, "```json\n{\"a\": 1,}\n```")
    row(rows, "detectable_format:json_format", {}, "\"just a string\"")
    row(rows, "detectable_format:json_format", {}, "{\"a\": NaN}")
    row(rows, "detectable_format:title", {}, "Text then <<Title>> later")
    row(rows, "detectable_format:title", {}, "<<>>")
    row(rows, "combination:two_responses", {}, "******\nA\n******\nB\n******")
    row(rows, "combination:two_responses", {}, "A\n*******\nB")
    row(rows, "combination:two_responses", {}, "A ****** B ****** C")
    row(rows, "combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "  WRITE A POEM. Roses are red.", prompt="Write a poem.")
    row(rows, "combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "Write a poem Roses", prompt="Write a poem.")
    row(rows, "startend:end_checker", {"end_phrase": "Any other questions?"}, "Done.\nAny other questions?**")
    row(rows, "startend:end_checker", {"end_phrase": "Peace."}, "\"Love and peace.\"")
    row(rows, "startend:quotation", {}, "\"a\" and \"b\"")
    row(rows, "startend:quotation", {}, "“curly”")
    row(rows, "punctuation:no_comma", {}, "Chinese comma ， only")
    row(rows, "punctuation:no_comma", {}, "line one\n\nline two,")

    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
