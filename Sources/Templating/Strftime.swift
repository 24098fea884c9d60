import Foundation

/// Python's `datetime.strftime` in the C locale (English names), as `strftime_now` uses it on
/// Linux, including glibc's `%-d`-style no-padding flag.
enum Strftime {
    static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

    static func format(_ format: String, date: Date, timeZone: TimeZone, unsupported: (String) -> TemplateError) throws -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let year = c.year ?? 1970
        let month = c.month ?? 1
        let day = c.day ?? 1
        let hour = c.hour ?? 0
        let minute = c.minute ?? 0
        let second = c.second ?? 0
        let weekday0 = (c.weekday ?? 1) - 1  // 0 = Sunday
        let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1

        var out = ""
        var chars = Array(format)[...]
        while let ch = chars.popFirst() {
            guard ch == "%" else {
                out.append(ch)
                continue
            }
            var pad = true
            var flag = chars.first
            if flag == "-" {
                pad = false
                chars.removeFirst()
                flag = chars.first
            }
            guard let directive = chars.popFirst() else {
                out.append("%")
                break
            }
            func number(_ v: Int, _ width: Int, space: Bool = false) -> String {
                let s = String(v)
                guard pad, s.count < width else { return s }
                return String(repeating: space ? " " : "0", count: width - s.count) + s
            }
            switch directive {
            case "a": out += String(weekdays[weekday0].prefix(3))
            case "A": out += weekdays[weekday0]
            case "b", "h": out += String(months[month - 1].prefix(3))
            case "B": out += months[month - 1]
            case "d": out += number(day, 2)
            case "e": out += number(day, 2, space: true)
            case "H": out += number(hour, 2)
            case "I": out += number(hour % 12 == 0 ? 12 : hour % 12, 2)
            case "j": out += number(dayOfYear, 3)
            case "m": out += number(month, 2)
            case "M": out += number(minute, 2)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "S": out += number(second, 2)
            case "y": out += number(year % 100, 2)
            case "Y": out += String(year)
            case "u": out += String(weekday0 == 0 ? 7 : weekday0)
            case "w": out += String(weekday0)
            case "F": out += "\(year)-\(number(month, 2))-\(number(day, 2))"
            case "T", "X": out += "\(number(hour, 2)):\(number(minute, 2)):\(number(second, 2))"
            case "R": out += "\(number(hour, 2)):\(number(minute, 2))"
            case "D", "x": out += "\(number(month, 2))/\(number(day, 2))/\(number(year % 100, 2))"
            case "c":
                out += "\(weekdays[weekday0].prefix(3)) \(months[month - 1].prefix(3)) \(number(day, 2, space: true)) "
                    + "\(number(hour, 2)):\(number(minute, 2)):\(number(second, 2)) \(year)"
            case "z", "Z":
                // Python's datetime.now() is naive (no time zone), so these print nothing.
                break
            case "n": out += "\n"
            case "t": out += "\t"
            case "%": out += "%"
            default:
                throw unsupported("the strftime directive '%\(directive)'")
            }
        }
        return out
    }
}
