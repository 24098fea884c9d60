import Foundation

/// A small language identifier standing in for `langdetect.detect` in IFEval's
/// `language:response_language`, `change_case:english_capital` and
/// `change_case:english_lowercase`. It answers with langdetect's codes (ISO 639-1, and
/// `zh-cn` / `zh-tw` for Chinese), or nil where langdetect raises ("no features": no letter
/// at all), which IFEval counts as a pass.
///
/// 1. The script with the most letters decides when it belongs to one language
///    (Hangul `ko`, Thai `th`, Greek `el`, Hebrew `he`, Kannada `kn`, Gurmukhi `pa`,
///    Gujarati `gu`, Tamil `ta`, Telugu `te`, Malayalam `ml`, Bengali `bn`; kana `ja`;
///    Han alone `zh-cn`, or `zh-tw` when traditional-only characters outnumber
///    simplified-only ones).
/// 2. Scripts shared by several languages are settled by letters only one of them uses
///    and by their most frequent words: Devanagari `hi` / `mr` / `ne`, Arabic `ar` / `fa` /
///    `ur`, Cyrillic `ru` / `bg` / `uk` / `mk`, and Latin (en, de, fr, es, it, pt, nl, sv, da,
///    no, fi, sw, vi, pl, cs, ro, tr, id, tl, ca, hu, af).
/// 3. Latin text with no evidence at all is English.
///
/// langdetect compares character 1- to 3-gram frequencies with profiles of 55 languages
/// and samples them at random (seeded in the reference); on long text both agree, on a
/// few words langdetect's answer is close to arbitrary ("Hello" is `fi`, "ok" is `sk`), and
/// there they will disagree. docs/evaluation.md lists the known differences.
public enum LanguageDetector {
    /// langdetect's code for `text`, or nil when it has no letters.
    public static func detect(_ text: String) -> String? {
        var counts: [Script: Int] = [:]
        for c in text.unicodeScalars where c.properties.isAlphabetic || c.properties.generalCategory == .nonspacingMark {
            if let s = script(c) { counts[s, default: 0] += 1 }
        }
        // Kana next to Han is Japanese whatever the proportions.
        if counts[.kana, default: 0] > 0, counts[.kana, default: 0] + counts[.han, default: 0] >= counts.values.max() ?? 0 {
            return "ja"
        }
        guard let (top, _) = counts.filter({ $0.key != .mark }).max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) }) else {
            return nil
        }
        switch top {
        case .hangul: return "ko"
        case .thai: return "th"
        case .greek: return "el"
        case .hebrew: return "he"
        case .kannada: return "kn"
        case .gurmukhi: return "pa"
        case .gujarati: return "gu"
        case .tamil: return "ta"
        case .telugu: return "te"
        case .malayalam: return "ml"
        case .bengali: return "bn"
        case .kana: return "ja"
        case .han: return chinese(text)
        case .devanagari: return bestByWords(text, Self.devanagari, letters: [:], fallback: "hi")
        case .arabic: return bestByWords(text, Self.arabic, letters: Self.arabicLetters, fallback: "ar")
        case .cyrillic: return bestByWords(text, Self.cyrillic, letters: Self.cyrillicLetters, fallback: "ru")
        case .latin: return bestByWords(text, Self.latin, letters: Self.latinLetters, fallback: "en")
        case .mark: return nil
        }
    }

    enum Script: Int {
        case latin, cyrillic, greek, arabic, hebrew, devanagari, bengali, gurmukhi, gujarati, tamil, telugu,
             kannada, malayalam, thai, hangul, kana, han, mark
    }

    static func script(_ c: Unicode.Scalar) -> Script? {
        switch c.value {
        case 0x41...0x5A, 0x61...0x7A, 0xC0...0x24F, 0x1E00...0x1EFF: return .latin
        case 0x400...0x52F: return .cyrillic
        case 0x370...0x3FF, 0x1F00...0x1FFF: return .greek
        case 0x590...0x5FF: return .hebrew
        case 0x600...0x6FF, 0x750...0x77F, 0xFB50...0xFDFF, 0xFE70...0xFEFF: return .arabic
        case 0x900...0x97F: return .devanagari
        case 0x980...0x9FF: return .bengali
        case 0xA00...0xA7F: return .gurmukhi
        case 0xA80...0xAFF: return .gujarati
        case 0xB80...0xBFF: return .tamil
        case 0xC00...0xC7F: return .telugu
        case 0xC80...0xCFF: return .kannada
        case 0xD00...0xD7F: return .malayalam
        case 0xE00...0xE7F: return .thai
        case 0x1100...0x11FF, 0x3130...0x318F, 0xAC00...0xD7AF: return .hangul
        case 0x3040...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9D: return .kana
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0xF900...0xFAFF: return .han
        default: return c.properties.generalCategory == .nonspacingMark ? .mark : nil
        }
    }

    /// Simplified-only and traditional-only forms of frequent characters.
    static let simplified = Set("这们个说时来为国学会对发经过还没么样后问里开关长动应实现让认书车东见边进话语点热电气门马鸟鱼爱欢乐图买卖写读务")
    static let traditional = Set("這們個說時來為國學會對發經過還沒麼樣後問裡開關長動應實現讓認書車東見邊進話語點熱電氣門馬鳥魚愛歡樂圖買賣寫讀務")

    static func chinese(_ text: String) -> String {
        let s = text.filter { simplified.contains($0) }.count, t = text.filter { traditional.contains($0) }.count
        return t > s ? "zh-tw" : "zh-cn"
    }

    /// The language whose frequent words (one point each) and own letters (half a point
    /// each) occur most in `text`; `fallback` when none does.
    static func bestByWords(_ text: String, _ words: [String: Set<String>], letters: [String: Set<Character>], fallback: String) -> String {
        var score: [String: Double] = [:]
        let tokens = text.lowercased().split(whereSeparator: { $0.isWhitespace || (($0.isPunctuation || $0.isSymbol || $0.isNumber) && $0 != "'" && $0 != "’") })
        for token in tokens {
            let w = String(token).trimmingCharacters(in: CharacterSet(charactersIn: "'’"))
            for (language, set) in words where set.contains(w) { score[language, default: 0] += 1 }
        }
        for ch in text.lowercased() {
            for (language, set) in letters where set.contains(ch) { score[language, default: 0] += 0.5 }
        }
        // Ties go to the fallback (the script's most common language), then alphabetically.
        guard let best = score.max(by: { a, b in
            if a.value != b.value { return a.value < b.value }
            if (a.key == fallback) != (b.key == fallback) { return b.key == fallback }
            return a.key > b.key
        }), best.value > 0 else { return fallback }
        return best.key
    }

    static func words(_ s: String) -> Set<String> { Set(s.split(separator: " ").map(String.init)) }

    static let devanagari: [String: Set<String>] = [
        "hi": words("है हैं के की का में और से को पर यह एक भी था थी थे नहीं कि लिए होता होती कर हो गया जो तो इस उस वह ये वे हम आप अपने साथ बहुत क्या कैसे"),
        "mr": words("आहे आहेत आणि च्या चा ची चे मध्ये हे ही हा या तो ती ते एक नाही करून होते होता म्हणून आपण त्या त्याच्या साठी पण किंवा खूप मी आम्ही तुम्ही कसे काय"),
        "ne": words("छ छन् र को का की मा ले लाई यो त्यो एक पनि थियो हो गर्न गरेको भएको हुन्छ हुन्छन् तथा भने हामी तपाईं उनी सबै धेरै कसरी के"),
    ]

    static let arabic: [String: Set<String>] = [
        "ar": words("في من على إلى أن عن مع هذا هذه التي الذي كان كانت هو هي ما لا كل قد بين أو ثم عند لم لن إن"),
        "fa": words("و در به از که این را با است برای آن یک تا می هم شد شده بود های کرد کند نیز خود ما شما او"),
        "ur": words("ہے ہیں کے کی کا میں اور سے کو پر یہ ایک بھی تھا تھی نہیں کہ لیے ہوتا وہ ہم آپ اپنے ساتھ بہت"),
    ]
    static let arabicLetters: [String: Set<Character>] = [
        "ar": Set("يكةىأإ"), "fa": Set("پچژگیک"), "ur": Set("ےںٹڈڑہھ"),
    ]

    static let cyrillic: [String: Set<String>] = [
        "ru": words("и в не на что это как он я с по но все так его для был если или есть мы вы они она мне уже только бы очень со из у к от до же ли тоже который когда где можно нужно сегодня свой своими при"),
        "bg": words("и на е се за от са да ще това като не които който по към със бъде много или може тя той ние вие те"),
        "uk": words("і в не на що це як він я з по але все так його для був якщо або є ми ви вони вона мені вже тільки"),
        "mk": words("и на е се за од да ќе тоа како не кои кој по со биде многу или може таа тој ние вие тие"),
    ]
    static let cyrillicLetters: [String: Set<Character>] = [
        "ru": Set("ыэё"), "bg": Set("ъ"), "uk": Set("іїєґ"), "mk": Set("ѓќѕљњџј"),
    ]

    static let latin: [String: Set<String>] = [
        "en": words("the and of to is in that it for you was with on as are be this have not but at by from they we or an will my all would there their what so if about which when one can your has more no do our how its been very these some also i am me he she him her us them because should could"),
        "de": words("der die das und ist nicht ein eine zu den von mit sich des auf für im dem ich sie er es auch wir wird werden sind war oder aber wie noch nach bei aus einen einem"),
        "fr": words("le la les et est de des un une du que qui dans pour pas sur au avec ce il elle nous vous sont ne se plus par mais ou aux cette été être"),
        "es": words("el la los las y es de que en un una por con para no del se al lo como más pero sus su le ya muy también está son fue"),
        "it": words("il lo la gli le e è di che in un una per non del della con sono si al da ma come anche più questo nel alla dei"),
        "pt": words("o a os as e é de que em um uma para não do da com por se no na dos das mais como mas ao foi são também está"),
        "nl": words("de het een en is van dat niet in op te zijn met voor die er aan ook als maar om bij dit wordt naar heeft door"),
        "sv": words("och att det som en är av för på med inte den till har de ett var jag om men så kan sig från eller vi"),
        "da": words("og at det som en er af for på med ikke den til har de et var jeg om men så kan sig fra eller vi"),
        "no": words("og at det som en er av for på med ikke den til har de et var jeg om men så kan seg fra eller vi"),
        "fi": words("ja on ei se että oli ovat hän mutta kun niin tai myös joka ole tämä sen mitä kanssa vain jos kuin mukaan sekä"),
        "sw": words("na ya wa kwa ni za katika la au kuwa hii ambayo lakini pia sana kama hiyo yake wake watu kila baada zaidi"),
        "vi": words("và là của có không một những các được cho người trong này với đã để khi như đến từ theo rất cũng"),
        "pl": words("i w nie na się z że do to jest jak o co ale od po za jego tak tym czy być przez"),
        "cs": words("a v je se na že to s z do o jako ale by jsou byl pro jeho který také nebo"),
        "ro": words("și în de la cu este că nu pe un o din care mai sunt pentru ca se a fost"),
        "tr": words("ve bir bu da de için ile çok ne gibi daha olarak olan ama var mı en kadar sonra"),
        "id": words("dan yang di ini itu dengan untuk tidak dari dalam akan pada juga ke karena ada atau saya mereka"),
        "tl": words("ang ng sa na at mga ay si ko ako mo hindi ito para may kung siya niya"),
        "ca": words("el la els les i és de que en un una per amb no del al com més però seu aquest"),
        "hu": words("a az és hogy nem egy is van meg de ez azt csak mint már volt vagy"),
        "af": words("die en is van in dat nie het te vir op met sy wat ek hy was aan ons"),
    ]
    static let latinLetters: [String: Set<Character>] = [
        "de": Set("ßü"), "fi": Set("äö"), "fr": Set("çèêëœùû"), "es": Set("ñ¿¡"), "pt": Set("ãõ"), "pl": Set("ąęłńśźż"),
        "cs": Set("řěů"), "ro": Set("șțşţ"), "tr": Set("ğış"), "hu": Set("őű"), "sv": Set("å"), "da": Set("æø"),
        "vi": Set("ơưđạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"),
    ]
}
