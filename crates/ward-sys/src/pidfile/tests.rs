use super::*;

fn me() -> PidRecord {
    PidRecord::of(std::process::id(), "test", &["test".into()]).unwrap()
}

#[test]
fn a_held_file_is_valid_and_cannot_be_taken() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.pid");
    let held = HeldPidFile::create(&path, &me()).unwrap();
    assert_eq!(check(&path).class, Class::Valid);
    assert_eq!(check(&path).format, Some(Format::Ward));
    // flock locks belong to the open file description: a second open in the same
    // process conflicts just as another process would.
    match HeldPidFile::create(&path, &me()) {
        Err(PidFileError::Held { holder, .. }) => {
            assert_eq!(holder, std::process::id().to_string())
        }
        other => panic!("expected Held, got {other:?}"),
    }
    assert!(matches!(held.release(), Release::Removed));
    assert_eq!(check(&path).class, Class::NotFound);
}

#[test]
fn only_pid_files_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("bare.pid"), " 4194303\n").unwrap();
    fs::write(
        d.join("record.pid"),
        serde_json::to_string(&PidRecord {
            pid: 4_194_303,
            ..me()
        })
        .unwrap(),
    )
    .unwrap();
    for name in ["bare.pid", "record.pid"] {
        let held = HeldPidFile::create(&d.join(name), &me()).unwrap();
        assert_eq!(check(&d.join(name)).class, Class::Valid, "{name}");
        assert!(matches!(held.release(), Release::Removed));
    }
    fs::write(d.join("notes"), "precious\n").unwrap();
    fs::write(d.join("empty"), "").unwrap();
    fs::write(d.join("zero"), "0\n").unwrap();
    fs::write(d.join("journal.db"), b"SQLite format 3\0\x10\0").unwrap();
    fs::create_dir(d.join("dir")).unwrap();
    std::os::unix::fs::symlink(d.join("bare.pid.gone"), d.join("dangling")).unwrap();
    fs::write(d.join("target"), "1234\n").unwrap();
    std::os::unix::fs::symlink(d.join("target"), d.join("link")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        d.join("fifo"),
        rustix::fs::FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    for (name, found) in [
        ("notes", "a file of 9 bytes that names no process"),
        ("empty", "an empty file"),
        ("zero", "a file of 2 bytes that names no process"),
        ("journal.db", "that names no process"),
        ("dir", "a directory"),
        ("dangling", "a symbolic link"),
        ("link", "a symbolic link"),
        ("fifo", "not a regular file"),
    ] {
        let path = d.join(name);
        let before = fs::symlink_metadata(&path).unwrap();
        match HeldPidFile::create(&path, &me()) {
            Err(e @ PidFileError::NotPidFile { .. }) => {
                let text = e.to_string();
                assert!(
                    text.starts_with(&format!(
                        "{} is not a PID file; ward will not overwrite it (it is ",
                        path.display()
                    )) && text.contains(found),
                    "{name}: {text}"
                );
            }
            other => panic!("{name}: expected NotPidFile, got {other:?}"),
        }
        let after = fs::symlink_metadata(&path).unwrap();
        assert_eq!((before.ino(), before.len()), (after.ino(), after.len()));
    }
    assert_eq!(fs::read_to_string(d.join("notes")).unwrap(), "precious\n");
    assert_eq!(fs::read_to_string(d.join("target")).unwrap(), "1234\n");
    // No temporary file is left behind by the refusals.
    let tmp: Vec<_> = fs::read_dir(d)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

#[test]
fn what_check_reads_as_a_pid_file_is_what_create_replaces() {
    // One judge of content for both: a file that `create` refuses to overwrite as no
    // PID file must not be called valid (or stale, and removed) by `check`.
    let dir = tempfile::tempdir().unwrap();
    let pid = std::process::id();
    let mut record = serde_json::to_vec(&me()).unwrap();
    record.push(0xff);
    let odd: [(&str, Vec<u8>); 4] = [
        ("plus", format!("+{pid}\n").into_bytes()),
        ("nbsp", format!("\u{a0}{pid}\n").into_bytes()),
        ("vertical-tab", format!("{pid}\u{b}").into_bytes()),
        ("not-utf8", record),
    ];
    for (name, content) in odd {
        let path = dir.path().join(name);
        fs::write(&path, &content).unwrap();
        assert!(
            matches!(parse_content(&content), Content::Corrupted { .. }),
            "{name}: {:?}",
            parse_content(&content)
        );
        assert!(matches!(check(&path).class, Class::Corrupted(_)), "{name}");
        assert!(
            matches!(
                HeldPidFile::create(&path, &me()),
                Err(PidFileError::NotPidFile { .. })
            ),
            "{name}"
        );
        assert!(!remove_if_stale(&path).unwrap().1, "{name}");
    }
}

#[test]
fn release_removes_only_the_file_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.pid");

    let held = HeldPidFile::create(&path, &me()).unwrap();
    fs::write(dir.path().join("other"), "someone else's\n").unwrap();
    fs::rename(dir.path().join("other"), &path).unwrap();
    assert!(matches!(held.release(), Release::Replaced));
    assert_eq!(fs::read_to_string(&path).unwrap(), "someone else's\n");
    fs::remove_file(&path).unwrap();

    let held = HeldPidFile::create(&path, &me()).unwrap();
    fs::write(&path, "edited\n").unwrap();
    let release = held.release();
    assert!(matches!(release, Release::Changed));
    assert_eq!(release.kept_because().unwrap(), "its content changed");
    assert_eq!(fs::read_to_string(&path).unwrap(), "edited\n");
    fs::remove_file(&path).unwrap();

    let held = HeldPidFile::create(&path, &me()).unwrap();
    fs::remove_file(&path).unwrap();
    assert!(matches!(held.release(), Release::Gone));
}

#[test]
fn every_stale_reason() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, r: &PidRecord| {
        let p = dir.path().join(name);
        fs::write(&p, serde_json::to_string(r).unwrap()).unwrap();
        p
    };
    let live = me();
    let unlocked = write("unlocked.pid", &live);
    assert_eq!(
        check(&unlocked).class,
        Class::Stale(StaleReason::LockReleased)
    );
    let reused = write(
        "reused.pid",
        &PidRecord {
            start_time: live.start_time + 1,
            ..live.clone()
        },
    );
    assert_eq!(check(&reused).class, Class::Stale(StaleReason::PidReused));
    let boot = write(
        "boot.pid",
        &PidRecord {
            boot_id: "00000000-0000-0000-0000-000000000000".into(),
            ..live.clone()
        },
    );
    assert_eq!(check(&boot).class, Class::Stale(StaleReason::EarlierBoot));
    let mut child = std::process::Command::new("/bin/true").spawn().unwrap();
    let gone = PidRecord::of(child.id(), "x", &[]).unwrap();
    child.wait().unwrap();
    let gone = write("gone.pid", &gone);
    assert_eq!(check(&gone).class, Class::Stale(StaleReason::NotRunning));
}

#[test]
fn corrupted_plain_missing_and_denied() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.pid");
    fs::write(&p, "{\"pid\": ").unwrap();
    assert!(matches!(check(&p).class, Class::Corrupted(_)));
    fs::write(&p, "").unwrap();
    assert!(matches!(check(&p).class, Class::Corrupted(_)));
    fs::write(&p, format!("{}\n", std::process::id())).unwrap();
    let v = check(&p);
    assert_eq!((v.class, v.format), (Class::Valid, Some(Format::Plain)));
    fs::write(&p, "4194304999\n").unwrap();
    assert!(matches!(
        check(&p).class,
        Class::Corrupted(_) | Class::Stale(_)
    ));
    assert_eq!(check(&dir.path().join("none.pid")).class, Class::NotFound);
}

#[test]
fn an_empty_file_being_written_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("w.pid");
    let f = File::create(&p).unwrap();
    flock(&f, FlockOperation::NonBlockingLockExclusive).unwrap();
    assert_eq!(check(&p).class, Class::Locked);
}

#[test]
fn racing_writers_exactly_one_wins() {
    for _ in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("race.pid");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    HeldPidFile::create(&path, &me()).ok()
                })
            })
            .collect();
        let winners: Vec<HeldPidFile> = handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect();
        assert_eq!(winners.len(), 1);
        assert_eq!(check(&path).class, Class::Valid);
        // Every loser cleaned up after itself: the winner's file is the only one.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

#[test]
fn clean_removes_only_stale_files() {
    let dir = tempfile::tempdir().unwrap();
    let held_path = dir.path().join("held.pid");
    let _held = HeldPidFile::create(&held_path, &me()).unwrap();
    let stale = dir.path().join("stale.pid");
    fs::write(&stale, "4194303\n").unwrap();
    let abandoned = dir.path().join("abandoned.pid");
    fs::write(&abandoned, serde_json::to_string(&me()).unwrap()).unwrap();
    assert!(matches!(
        remove_if_stale(&abandoned).unwrap().0.class,
        Class::Stale(StaleReason::LockReleased)
    ));
    assert!(!abandoned.exists());
    assert_eq!(remove_if_stale(&held_path).unwrap().0.class, Class::Valid);
    assert!(held_path.exists());
    assert!(matches!(
        remove_if_stale(&stale).unwrap().0.class,
        Class::Stale(StaleReason::NotRunning)
    ));
    assert!(!stale.exists());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn record() -> impl Strategy<Value = PidRecord> {
        (
            any::<u32>(),
            any::<u64>(),
            ".*",
            ".*",
            prop::collection::vec(".*", 0..4),
            any::<u64>(),
        )
            .prop_map(|(pid, start_time, boot_id, service, command, created_ms)| {
                PidRecord {
                    pid,
                    start_time,
                    boot_id,
                    service,
                    command,
                    created_ms,
                }
            })
    }

    fn space() -> impl Strategy<Value = String> {
        "[ \t\r\n]{0,3}"
    }

    proptest! {
        #[test]
        fn content_parsing_is_total(
            content in prop::collection::vec(
                prop_oneof![
                    any::<u8>(),
                    prop::sample::select(b"0123456789 \t\n\x0b\x0c\r+-{}".to_vec()),
                ],
                0..256,
            ),
        ) {
            let parsed = parse_content(&content);
            prop_assert_ne!(&parsed, &Content::Plain(0));
            prop_assert_eq!(
                parsed == Content::Empty,
                content.iter().all(u8::is_ascii_whitespace)
            );
            if let Content::Plain(pid) = parsed {
                let digits = content.trim_ascii();
                prop_assert!(digits.iter().all(u8::is_ascii_digit));
                prop_assert_eq!(std::str::from_utf8(digits).unwrap().parse::<u32>(), Ok(pid));
            }
            // The holder named in a refusal is the PID the content names.
            let named = match parsed {
                Content::Plain(pid) => Some(pid.to_string()),
                Content::Ward(r) => Some(r.pid.to_string()),
                _ => None,
            };
            prop_assert_eq!(holder_pid(&content), named);
        }

        #[test]
        fn a_ward_record_reads_back_as_written(
            record in record(),
            pretty in any::<bool>(),
            before in space(),
            after in space(),
        ) {
            let json = if pretty {
                serde_json::to_string_pretty(&record).unwrap()
            } else {
                serde_json::to_string(&record).unwrap()
            };
            let content = format!("{before}{json}{after}");
            prop_assert_eq!(parse_content(content.as_bytes()), Content::Ward(record));
        }

        #[test]
        fn a_cut_or_extended_record_is_corrupted(
            record in record(),
            cut in any::<prop::sample::Index>(),
            // Starts with a character that `trim` keeps (`\S` is not White_Space).
            garbage in "\\S\\PC{0,20}",
        ) {
            let json = serde_json::to_vec(&record).unwrap();
            // A proper, non-empty prefix, cut anywhere, even inside a character.
            let cut = 1 + cut.index(json.len() - 1);
            prop_assert!(
                matches!(
                    parse_content(&json[..cut]),
                    Content::Corrupted { format: None, .. }
                ),
                "{:?}",
                String::from_utf8_lossy(&json[..cut])
            );
            let mut extended = json.clone();
            extended.extend_from_slice(garbage.as_bytes());
            prop_assert!(
                matches!(parse_content(&extended), Content::Corrupted { format: None, .. }),
                "{:?}",
                String::from_utf8_lossy(&extended)
            );
        }

        #[test]
        fn a_bare_pid_is_plain_and_zero_names_nothing(
            pid in any::<u32>(),
            before in space(),
            after in space(),
        ) {
            let content = format!("{before}{pid}{after}");
            let expected = match pid {
                0 => Content::Corrupted {
                    format: Some(Format::Plain),
                    why: "pid 0".into(),
                },
                pid => Content::Plain(pid),
            };
            prop_assert_eq!(parse_content(content.as_bytes()), expected);
        }

        #[test]
        fn white_space_alone_is_empty(content in space()) {
            prop_assert_eq!(parse_content(content.as_bytes()), Content::Empty);
        }
    }
}
