//! The GSM 03.38 default alphabet (GSM-7): which texts an SMS can carry in 7-bit septets,
//! how many septets they take (characters of the extension table take two) and how to
//! bring any text into that alphabet (common accented letters lose their accent, other
//! characters become `?`), so that an SMS never silently switches to UCS-2 (70 characters).

/// Septets in one single-part SMS.
pub const SEGMENT_SEPTETS: usize = 160;
/// Septets per part of a concatenated SMS (the rest is the UDH).
pub const CONCAT_SEPTETS: usize = 153;

const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// Septets `c` takes: 1 (basic), 2 (extension table, escaped), or `None` (not GSM-7).
pub fn char_septets(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Septets of the whole text, or `None` if a character is outside GSM-7.
pub fn septets(text: &str) -> Option<usize> {
    text.chars().map(char_septets).sum()
}

/// Parts the text needs as GSM-7 SMS (`None`: not GSM-7).
pub fn segments(text: &str) -> Option<usize> {
    let n = septets(text)?;
    Some(if n <= SEGMENT_SEPTETS {
        1
    } else {
        n.div_ceil(CONCAT_SEPTETS)
    })
}

fn fold(c: char) -> Option<char> {
    Some(match c {
        'á' | 'â' | 'ã' | 'å' | 'ā' => 'a',
        'Á' | 'Â' | 'Ã' | 'À' | 'Ā' => 'A',
        'ç' => 'c',
        'ê' | 'ë' | 'ē' => 'e',
        'È' | 'Ê' | 'Ë' | 'Ē' => 'E',
        'í' | 'î' | 'ï' | 'ī' => 'i',
        'Í' | 'Ì' | 'Î' | 'Ï' | 'Ī' => 'I',
        'ó' | 'ô' | 'õ' | 'ō' => 'o',
        'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ō' => 'O',
        'ú' | 'û' | 'ū' => 'u',
        'Ú' | 'Ù' | 'Û' | 'Ū' => 'U',
        'ý' | 'ÿ' => 'y',
        'Ý' => 'Y',
        '‘' | '’' | '`' | '´' => '\'',
        '“' | '”' => '"',
        '–' | '—' => '-',
        '…' => '.',
        '\t' => ' ',
        _ => return None,
    })
}

/// The text in GSM-7: accents folded where the letter exists without, the rest `?`.
pub fn to_gsm7(text: &str) -> String {
    text.chars()
        .map(|c| {
            if char_septets(c).is_some() {
                c
            } else {
                fold(c).unwrap_or('?')
            }
        })
        .collect()
}

/// The longest prefix of a GSM-7 text that takes at most `max` septets.
pub fn cut_septets(text: &str, max: usize) -> String {
    let mut used = 0;
    let mut out = String::new();
    for c in text.chars() {
        let n = char_septets(c).unwrap_or(1);
        if used + n > max {
            break;
        }
        used += n;
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet() {
        assert_eq!(BASIC.chars().count(), 127, "basic table minus ESC");
        assert_eq!(septets("Halo Budi"), Some(9));
        assert_eq!(septets("harga €5 [ok]"), Some(16));
        assert_eq!(septets("字"), None);
        assert_eq!(to_gsm7("José Açaí – 字"), "José Acai - ?");
        assert_eq!(segments(&"a".repeat(160)), Some(1));
        assert_eq!(segments(&"a".repeat(161)), Some(2));
        assert_eq!(segments(&"€".repeat(80)), Some(1));
        assert_eq!(cut_septets("ab€cd", 3), "ab");
        assert_eq!(cut_septets("ab€cd", 4), "ab€");
    }
}
