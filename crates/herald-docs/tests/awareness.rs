//! Awareness on the server: a connection owns the client ids it announced
//! first, cannot overwrite another connection's states, and its states are
//! removed (with a message telling the others) when it leaves.

use std::collections::HashMap;
use std::sync::Arc;

use herald_docs::Document;
use herald_docs::document::decode_message;
use yrs::ClientID;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::protocol::Message;
use yrs::sync::{Awareness, AwarenessUpdate};

fn update(entries: &[(u64, u32, &str)]) -> AwarenessUpdate {
    let clients: HashMap<ClientID, AwarenessUpdateEntry> = entries
        .iter()
        .map(|(id, clock, json)| (ClientID::new(*id), AwarenessUpdateEntry { clock: *clock, json: Arc::from(*json) }))
        .collect();
    AwarenessUpdate { clients }
}

fn states(doc: &Document) -> Vec<(u64, String)> {
    let mut s = doc.awareness_entries();
    s.sort();
    s
}

#[test]
fn connections_own_their_client_ids_and_lose_them_on_leaving() {
    let mut doc = Document::new();
    let ann: Arc<str> = Arc::from("conn-ann");
    let mal: Arc<str> = Arc::from("conn-mal");
    assert!(doc.apply_awareness(&ann, update(&[(1, 1, r#"{"user":"ann"}"#)])).is_some());
    // Another connection claiming ann's id (with a newer clock) is ignored.
    assert!(doc.apply_awareness(&mal, update(&[(1, 9, r#"{"user":"mal"}"#)])).is_none());
    // A mixed update keeps only the entries the sender owns (or claims first).
    let relayed = doc.apply_awareness(&mal, update(&[(1, 10, "null"), (2, 1, r#"{"user":"mal"}"#)])).unwrap();
    let Message::Awareness(u) = decode_message(&relayed).unwrap() else { panic!("not an awareness message") };
    assert_eq!(u.clients.keys().map(|c| c.get()).collect::<Vec<_>>(), vec![2]);
    assert_eq!(states(&doc), vec![(1, r#"{"user":"ann"}"#.into()), (2, r#"{"user":"mal"}"#.into())]);

    // A joiner's greeting carries both states.
    let greeting = doc.greeting();
    assert_eq!(greeting.len(), 2, "sync step 1, then awareness");

    // Ann leaves: her state goes, and the message removes it at a client too.
    let removal = doc.remove_peer(&ann).expect("a removal message");
    assert_eq!(states(&doc), vec![(2, r#"{"user":"mal"}"#.into())]);
    let mut client = Awareness::default();
    let Message::Awareness(all) = decode_message(&greeting[1]).unwrap() else { panic!("not awareness") };
    client.apply_update(all).unwrap();
    let Message::Awareness(gone) = decode_message(&removal).unwrap() else { panic!("not awareness") };
    client.apply_update(gone).unwrap();
    assert_eq!(client.iter().filter(|(_, s)| s.data.is_some()).map(|(id, _)| id.get()).collect::<Vec<_>>(), vec![2]);
    // Leaving twice, or without states, says nothing.
    assert!(doc.remove_peer(&ann).is_none());
}

#[test]
fn a_client_that_comes_back_after_its_removal_is_seen_again_at_its_next_clock() {
    let mut doc = Document::new();
    let first: Arc<str> = Arc::from("conn-1");
    doc.apply_awareness(&first, update(&[(7, 3, r#"{"user":"ann"}"#)])).unwrap();
    // Its connection drops: the removal keeps clock 3, as y-websocket's server does.
    let removal = doc.remove_peer(&first).unwrap();
    let Message::Awareness(gone) = decode_message(&removal).unwrap() else { panic!("not awareness") };
    let entry = &gone.clients[&ClientID::new(7)];
    assert_eq!((entry.clock, &*entry.json), (3, "null"));
    // It reconnects and announces itself with its next clock (4): accepted
    // here, so joiners' greetings and the other editors show it again.
    let again: Arc<str> = Arc::from("conn-2");
    assert!(doc.apply_awareness(&again, update(&[(7, 4, r#"{"user":"ann"}"#)])).is_some());
    assert_eq!(states(&doc), vec![(7, r#"{"user":"ann"}"#.into())]);
    let mut other = Awareness::default();
    other.apply_update(update(&[(7, 3, r#"{"user":"ann"}"#)])).unwrap();
    other.apply_update(gone).unwrap();
    other.apply_update(update(&[(7, 4, r#"{"user":"ann"}"#)])).unwrap();
    assert_eq!(other.iter().filter(|(_, s)| s.data.is_some()).count(), 1, "another editor sees it again");
}
