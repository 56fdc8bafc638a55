//! Which channels a message goes out on, in which order, in which language and from when:
//! decided once, when the message is queued, from the request, the recipient's directory
//! entry (addresses, subscriptions, preferences) and the channels this deployment has.
//!
//! - Channels: those the request names, else the template's default order; the recipient's
//!   preferred order first; only channels that can reach the recipient; the console last
//!   when it is enabled.
//! - `critical` (dispatch) and `high` (codes and security messages the person asked for)
//!   ignore quiet hours and opt-outs; `normal` and `low` wait for the end of quiet hours and
//!   skip opted-out channels (all opted out: the message is suppressed).

use kreki_notify_contracts::{Channel, Language, MessageRequested, Priority, Template};
use kreki_platform::types::PhoneE164;

/// An account's addresses on every channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub push: Vec<PushTarget>,
}

/// A push target of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    pub id: String,
    /// `webpush` or `fcm`.
    pub kind: String,
    pub endpoint: String,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
}

/// A recipient as the directory knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecipientInfo {
    /// E-mail, phone and push subscriptions (oldest first).
    pub addresses: Addresses,
    pub language: Option<Language>,
    /// Preferred order (from KREKI ID).
    pub channels: Vec<Channel>,
    /// Local minutes after midnight: `[start, end)`, wrapping past midnight when
    /// `start > end`.
    pub quiet: Option<(i64, i64)>,
    pub utc_offset_min: i64,
    /// Channels opted out of for `normal`/`low` messages; `all` for every channel.
    pub opt_out: Vec<String>,
}

/// The channels this deployment has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Available {
    pub push: bool,
    pub whatsapp: bool,
    pub sms: bool,
    pub email: bool,
    pub console: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub channels: Vec<Channel>,
    pub language: Language,
    /// Unix µs before which nothing is sent (end of quiet hours).
    pub not_before: i64,
    /// Why nothing is sent at all (opt-out), if so.
    pub suppressed: Option<&'static str>,
}

/// The usual channels of each message, fastest reach first.
pub fn default_channels(t: Template) -> &'static [Channel] {
    use Channel::*;
    match t {
        Template::DispatchOffer | Template::TestAlert => &[Push, Sms, Whatsapp],
        Template::OfferWithdrawn => &[Push, Sms],
        Template::CaseUpdate | Template::SmsHelpReply => &[Sms, Whatsapp],
        Template::AccountExists | Template::ContactChange => &[Email, Sms, Whatsapp],
        Template::EscalationNotice => &[Push, Email],
        Template::OtpCode => &[Sms, Whatsapp],
        Template::EmailVerification | Template::PasswordReset | Template::CertificateIssued => {
            &[Email]
        }
        Template::RecertificationReminder => &[Email, Push, Whatsapp],
        Template::WellbeingCheckin => &[Push, Whatsapp, Email],
    }
}

/// Whether quiet hours and opt-outs apply to a priority.
pub fn respects_preferences(p: Priority) -> bool {
    matches!(p, Priority::Normal | Priority::Low)
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Push => "push",
        Channel::Whatsapp => "whatsapp",
        Channel::Sms => "sms",
        Channel::Email => "email",
        Channel::Console => "console",
    }
}

/// Kinds of a raw address.
fn address_kind(a: &str) -> (bool, bool) {
    let email = a.contains('@') && !a.starts_with('@') && !a.ends_with('@');
    let phone = !email && PhoneE164::parse(a).is_ok();
    (email, phone)
}

pub fn plan(
    req: &MessageRequested,
    recipient: Option<&RecipientInfo>,
    available: Available,
    now_us: i64,
) -> Plan {
    let mut candidates: Vec<Channel> = if req.channels.is_empty() {
        default_channels(req.template).to_vec()
    } else {
        let mut seen = Vec::new();
        for c in &req.channels {
            if !seen.contains(c) {
                seen.push(*c);
            }
        }
        seen
    };
    let prefs = respects_preferences(req.priority);
    let language = req
        .language
        .or(recipient.and_then(|r| r.language))
        .unwrap_or_default();
    let mut suppressed = None;
    if let Some(r) = recipient {
        if !r.channels.is_empty() {
            // Stable: channels the person prefers first, in their order; the rest after.
            candidates
                .sort_by_key(|c| r.channels.iter().position(|p| p == c).unwrap_or(usize::MAX));
        }
        if prefs {
            if r.opt_out.iter().any(|o| o == "all") {
                suppressed = Some("opted out of non-urgent messages");
            }
            candidates.retain(|c| !r.opt_out.iter().any(|o| o == channel_name(*c)));
        }
    }
    let (addr_email, addr_phone) = req
        .address
        .as_deref()
        .map(address_kind)
        .unwrap_or((false, false));
    let reaches = |c: &Channel| match c {
        Channel::Push => available.push && recipient.is_some_and(|r| !r.addresses.push.is_empty()),
        Channel::Sms => {
            available.sms && (addr_phone || recipient.is_some_and(|r| r.addresses.phone.is_some()))
        }
        Channel::Whatsapp => {
            available.whatsapp
                && (addr_phone || recipient.is_some_and(|r| r.addresses.phone.is_some()))
        }
        Channel::Email => {
            available.email
                && (addr_email || recipient.is_some_and(|r| r.addresses.email.is_some()))
        }
        Channel::Console => available.console,
    };
    let mut channels: Vec<Channel> = candidates.into_iter().filter(reaches).collect();
    if available.console && !channels.contains(&Channel::Console) {
        channels.push(Channel::Console);
    }
    if suppressed.is_some() {
        channels.clear();
    }
    let not_before = match recipient.and_then(|r| r.quiet.map(|q| (q, r.utc_offset_min))) {
        Some(((start, end), offset)) if prefs => {
            now_us + quiet_delay_us(now_us, start, end, offset)
        }
        _ => now_us,
    };
    Plan {
        channels,
        language,
        not_before,
        suppressed,
    }
}

/// Time until the quiet period `[start, end)` (local minutes) is over, 0 outside it.
pub fn quiet_delay_us(now_us: i64, start: i64, end: i64, utc_offset_min: i64) -> i64 {
    if start == end {
        return 0;
    }
    let now_s = now_us.div_euclid(1_000_000);
    let local_s = (now_s + utc_offset_min * 60).rem_euclid(86_400);
    let local_min = local_s / 60;
    let inside = if start < end {
        start <= local_min && local_min < end
    } else {
        local_min >= start || local_min < end
    };
    if !inside {
        return 0;
    }
    let until_end_s = ((end * 60 - local_s) + 86_400).rem_euclid(86_400);
    until_end_s * 1_000_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use kreki_notify_contracts::Recipient;

    fn req(t: Template, p: Priority) -> MessageRequested {
        MessageRequested::new("k", Recipient::Account("a".into()), t, p)
    }

    fn subscription() -> PushTarget {
        PushTarget {
            id: "s1".into(),
            kind: "webpush".into(),
            endpoint: "https://push.example/s1".into(),
            p256dh: Some("p".into()),
            auth: Some("a".into()),
        }
    }

    const ALL: Available = Available {
        push: true,
        whatsapp: true,
        sms: true,
        email: true,
        console: false,
    };

    #[test]
    fn channels_follow_template_reach_and_preferences() {
        let volunteer = RecipientInfo {
            addresses: Addresses {
                phone: Some("+6281100000002".into()),
                push: vec![subscription()],
                ..Default::default()
            },
            ..Default::default()
        };
        let p = plan(
            &req(Template::DispatchOffer, Priority::Critical),
            Some(&volunteer),
            ALL,
            0,
        );
        assert_eq!(p.channels, [Channel::Push, Channel::Sms, Channel::Whatsapp]);
        // No push subscription: straight to SMS.
        let no_push = RecipientInfo {
            addresses: Addresses {
                push: vec![],
                ..volunteer.addresses.clone()
            },
            ..volunteer.clone()
        };
        let p = plan(
            &req(Template::DispatchOffer, Priority::Critical),
            Some(&no_push),
            ALL,
            0,
        );
        assert_eq!(p.channels, [Channel::Sms, Channel::Whatsapp]);
        // Preferred WhatsApp first.
        let prefers = RecipientInfo {
            channels: vec![Channel::Whatsapp],
            ..volunteer.clone()
        };
        let p = plan(
            &req(Template::DispatchOffer, Priority::Critical),
            Some(&prefers),
            ALL,
            0,
        );
        assert_eq!(p.channels, [Channel::Whatsapp, Channel::Push, Channel::Sms]);
        // Unknown recipient, no console: nothing reaches them.
        let p = plan(
            &req(Template::DispatchOffer, Priority::Critical),
            None,
            ALL,
            0,
        );
        assert!(p.channels.is_empty());
        // The console takes what nothing else can, last.
        let p = plan(
            &req(Template::DispatchOffer, Priority::Critical),
            None,
            Available {
                console: true,
                ..ALL
            },
            0,
        );
        assert_eq!(p.channels, [Channel::Console]);
        // A raw phone address: SMS.
        let mut r = MessageRequested::new(
            "k",
            Recipient::Address("081234567890".into()),
            Template::SmsHelpReply,
            Priority::High,
        );
        r.channels = vec![Channel::Sms];
        assert_eq!(plan(&r, None, ALL, 0).channels, [Channel::Sms]);
        let r = MessageRequested::new(
            "k",
            Recipient::Address("a@b.id".into()),
            Template::CertificateIssued,
            Priority::Normal,
        );
        assert_eq!(plan(&r, None, ALL, 0).channels, [Channel::Email]);
    }

    #[test]
    fn opt_out_and_quiet_hours_only_for_non_urgent() {
        // 23:00 WIB = 16:00 UTC.
        let now = 16 * 3_600 * 1_000_000;
        let r = RecipientInfo {
            addresses: Addresses {
                email: Some("x@y.id".into()),
                phone: Some("+6281100000002".into()),
                push: vec![subscription()],
            },
            quiet: Some((22 * 60, 6 * 60)),
            utc_offset_min: 420,
            opt_out: vec!["whatsapp".into()],
            ..Default::default()
        };
        let p = plan(
            &req(Template::RecertificationReminder, Priority::Normal),
            Some(&r),
            ALL,
            now,
        );
        assert_eq!(p.channels, [Channel::Email, Channel::Push]);
        assert_eq!(
            p.not_before - now,
            7 * 3_600 * 1_000_000,
            "waits until 06:00"
        );
        let p = plan(
            &req(Template::DispatchOffer, Priority::Critical),
            Some(&r),
            ALL,
            now,
        );
        assert_eq!(p.not_before, now, "critical ignores quiet hours");
        assert!(p.channels.contains(&Channel::Whatsapp), "and opt-outs");
        let all_out = RecipientInfo {
            opt_out: vec!["all".into()],
            ..r.clone()
        };
        let p = plan(
            &req(Template::WellbeingCheckin, Priority::Low),
            Some(&all_out),
            ALL,
            now,
        );
        assert!(p.channels.is_empty() && p.suppressed.is_some());
        let p = plan(
            &req(Template::OtpCode, Priority::High),
            Some(&all_out),
            ALL,
            now,
        );
        assert_eq!(
            p.channels,
            [Channel::Sms, Channel::Whatsapp],
            "codes always go"
        );
    }

    #[test]
    fn quiet_windows() {
        let h = |x: i64| x * 3_600 * 1_000_000;
        assert_eq!(quiet_delay_us(h(3), 22 * 60, 6 * 60, 0), h(3));
        assert_eq!(quiet_delay_us(h(7), 22 * 60, 6 * 60, 0), 0);
        assert_eq!(quiet_delay_us(h(13), 12 * 60, 14 * 60, 0), h(1));
        assert_eq!(quiet_delay_us(h(14), 12 * 60, 14 * 60, 0), 0);
        assert_eq!(quiet_delay_us(h(1), 5, 5, 0), 0);
    }
}
