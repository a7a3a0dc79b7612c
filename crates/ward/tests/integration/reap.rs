//! ward is a subreaper: orphans of its services are reaped, never left as zombies.

use crate::fixture::{Ward, reaped, testbin, wait_for, zombie_children};

#[test]
fn orphaned_grandchildren_are_reaped() {
    let bin = testbin();
    // kill_mode = main, so ward does not kill the orphan: it must exit on its own and
    // still be reaped by ward, its new parent.
    let w = Ward::up(&format!(
        "[services.parent]\ncommand = [\"{bin}\", \"orphan-then-exit\", \"300\"]\n\
         kill_mode = \"main\"\nrestart = \"never\"\n"
    ));
    let orphan = w.logged_pid("parent", "orphan");
    w.wait_state("parent", "exited");
    wait_for("the orphan to be reaped", || reaped(orphan).then_some(()));
    let ward = w.daemon_pid();
    let zombies = zombie_children(ward);
    assert!(zombies.is_empty(), "zombies under ward: {zombies:?}");
}

#[test]
fn leftovers_of_a_dead_main_process_are_killed_and_reaped() {
    let bin = testbin();
    // kill_mode = tree (the default): when the main process dies, what it left behind is
    // killed before the restart, so two generations never run side by side.
    let w = Ward::up(&format!(
        "[services.parent]\ncommand = [\"{bin}\", \"orphan-then-exit\", \"300000\"]\n\
         restart = \"never\"\n"
    ));
    let orphan = w.logged_pid("parent", "orphan");
    w.wait_state("parent", "exited");
    wait_for("the leftover to be killed and reaped", || {
        reaped(orphan).then_some(())
    });
    assert!(zombie_children(w.daemon_pid()).is_empty());
}
