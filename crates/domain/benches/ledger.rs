//! The ledger arithmetic on the chat path: `apply` (every reserve and refund), `audit` (each user
//! in `check-ledger`) and the in-memory `Account` reference model.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use domain::{
    LedgerEntryKind, Tokens,
    ledger::{self, Account},
};

fn ledger(c: &mut Criterion) {
    c.bench_function("ledger::apply, a debit that fits", |b| {
        b.iter(|| ledger::apply(black_box(Tokens::new(4000)), black_box(Tokens::new(-100))))
    });
    c.bench_function("ledger::apply, a debit refused", |b| {
        b.iter(|| ledger::apply(black_box(Tokens::new(50)), black_box(Tokens::new(-100))))
    });
    c.bench_function("ledger::audit, a consistent account", |b| {
        b.iter(|| ledger::audit(black_box(Tokens::new(3900)), black_box(Tokens::new(3900))))
    });
    c.bench_function("Account: grant, then 40 chats and a refused one", |b| {
        b.iter(|| {
            let mut account = Account::new();
            let grant = account.record(LedgerEntryKind::SignupGrant, black_box(Tokens::new(4000)));
            let chats = (0..41)
                .map(|_| account.record(LedgerEntryKind::ChatDebit, black_box(Tokens::new(-100))))
                .filter(Result::is_ok)
                .count();
            (grant, chats, account.balance())
        })
    });
}

criterion_group!(benches, ledger);
criterion_main!(benches);
