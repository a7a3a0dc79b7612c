//! The keys of a task in `[services.NAME]`: `type`, `success_exit_codes`,
//! `remain_after_exit`, and the schedule's `schedule`, `timezone`, `overlap` and
//! `catch_up`; with the checks that need the whole table (what only a task may have, and
//! what a task may not).

use super::fields::{Ctx, item_at};
use super::model::{RestartPolicy, ScheduleConfig, ServiceType};
use crate::exit::SuccessCodes;
use crate::schedule::{Cron, Overlap};
use toml_edit::{Item, TableLike};

const TYPES: &[(&str, ServiceType)] = &[
    (ServiceType::Simple.as_str(), ServiceType::Simple),
    (ServiceType::Oneshot.as_str(), ServiceType::Oneshot),
];

const OVERLAPS: &[(&str, Overlap)] = &[
    ("skip", Overlap::Skip),
    ("queue", Overlap::Queue),
    ("kill", Overlap::Kill),
];

/// A task's keys as read so far, with where each was written.
#[derive(Default)]
pub(crate) struct TaskKeys {
    kind: Option<ServiceType>,
    pub success_exit_codes: SuccessCodes,
    remain_after_exit: Option<(bool, usize)>,
    cron: Option<Cron>,
    schedule_at: Option<usize>,
    timezone: Option<String>,
    overlap: Option<Overlap>,
    catch_up: Option<bool>,
    /// Where the first of `timezone`, `overlap` and `catch_up` is.
    schedule_keys_at: Option<usize>,
}

impl TaskKeys {
    /// Reads `key` if it is one of a task's; false for any other key.
    pub fn read(&mut self, ctx: &mut Ctx<'_>, key: &str, value: &Item) -> bool {
        match key {
            "type" => self.kind = ctx.choice("type", value, TYPES).or(self.kind),
            "success_exit_codes" => self.success_exit_codes = exit_codes(ctx, value),
            "remain_after_exit" => {
                self.remain_after_exit = ctx
                    .boolean("remain_after_exit", value)
                    .map(|b| (b, item_at(value)))
            }
            "schedule" => {
                self.schedule_at = Some(item_at(value));
                if let Some(text) = ctx.string("schedule", value) {
                    match Cron::parse(text) {
                        Ok(c) => self.cron = Some(c),
                        Err(why) => ctx.error(
                            item_at(value),
                            format!("invalid schedule \"{text}\": {why}"),
                            Some("write five fields (minute hour day month weekday), six with seconds first, or a name such as \"@daily\"; \"0 3 * * *\" is every day at 03:00".into()),
                        ),
                    }
                }
            }
            "timezone" => {
                self.schedule_keys_at.get_or_insert(item_at(value));
                self.timezone = ctx.string("timezone", value).map(str::to_string);
                if let Some(tz) = &self.timezone
                    && (tz.is_empty() || tz.starts_with('/') || tz.contains(".."))
                {
                    ctx.error(
                        item_at(value),
                        format!("invalid timezone \"{tz}\""),
                        Some("a name of the IANA time zone database, such as \"Europe/Berlin\" or \"UTC\"".into()),
                    );
                }
            }
            "overlap" => {
                self.schedule_keys_at.get_or_insert(item_at(value));
                self.overlap = ctx.choice("overlap", value, OVERLAPS);
            }
            "catch_up" => {
                self.schedule_keys_at.get_or_insert(item_at(value));
                self.catch_up = ctx.boolean("catch_up", value);
            }
            _ => return false,
        }
        true
    }

    /// `remain_after_exit`, false unless written.
    pub fn remain_after_exit(&self) -> bool {
        self.remain_after_exit.is_some_and(|(b, _)| b)
    }

    /// Checks the table as a whole (`restart` and `ready` as written, with their places)
    /// and returns the service's type and schedule.
    pub fn finish(
        &self,
        ctx: &mut Ctx<'_>,
        name: &str,
        table: &dyn TableLike,
        restart: Option<(RestartPolicy, usize)>,
        ready_at: Option<usize>,
    ) -> (ServiceType, Option<ScheduleConfig>) {
        let kind = self.kind.unwrap_or(ServiceType::Simple);
        if kind == ServiceType::Oneshot {
            let refuse = |ctx: &mut Ctx<'_>, key: &str, at: usize, hint: &str| {
                ctx.error(
                    at,
                    format!("[services.{name}] is type = \"oneshot\" and sets `{key}`"),
                    Some(hint.to_string()),
                );
            };
            if let Some((RestartPolicy::Always, at)) = restart {
                refuse(
                    ctx,
                    "restart",
                    at,
                    "a task that restarts after every end never completes; use restart = \"on-failure\" to retry a failed run, or \"never\"",
                );
            }
            if let Some(at) = ready_at {
                refuse(
                    ctx,
                    "ready",
                    at,
                    "a task is ready for its dependents when it completes; remove `ready`",
                );
            }
            if let Some(h) = table.get("health") {
                refuse(
                    ctx,
                    "health",
                    item_at(h),
                    "a task's end says how it went, not a health check; remove `health`",
                );
            }
        } else if let Some((_, at)) = self.remain_after_exit {
            ctx.error(
                at,
                format!("[services.{name}] sets `remain_after_exit`, which only a task has"),
                Some("add type = \"oneshot\", or remove `remain_after_exit`".into()),
            );
        }
        if let Some(at) = self.schedule_at
            && kind != ServiceType::Oneshot
        {
            ctx.error(
                at,
                format!("[services.{name}] has a `schedule`, which only a task has"),
                Some("add type = \"oneshot\": a scheduled run is meant to end".into()),
            );
        }
        if let Some(at) = self.schedule_keys_at
            && self.schedule_at.is_none()
        {
            ctx.error(
                at,
                format!(
                    "[services.{name}] sets `timezone`, `overlap` or `catch_up` without a `schedule`"
                ),
                Some("add schedule = \"0 3 * * *\", or remove them".into()),
            );
        }
        let schedule = self.cron.clone().map(|cron| ScheduleConfig {
            cron,
            timezone: self.timezone.clone(),
            overlap: self.overlap.unwrap_or(Overlap::Skip),
            catch_up: self.catch_up.unwrap_or(false),
        });
        (kind, schedule)
    }
}

/// `success_exit_codes = [2, 75]`: exit codes from 1 to 255 that count as success.
fn exit_codes(ctx: &mut Ctx<'_>, item: &Item) -> SuccessCodes {
    let mut codes = SuccessCodes::default();
    let Some(array) = item.as_array() else {
        ctx.wrong_type(
            "success_exit_codes",
            "an array of exit codes",
            item,
            Some("such as success_exit_codes = [2, 75]".into()),
        );
        return codes;
    };
    for value in array.iter() {
        let at = value.span().map_or(item_at(item), |s| s.start);
        match value.as_integer() {
            Some(c @ 0..=255) => codes = codes.with(c as i32),
            _ => ctx.error(
                at,
                format!(
                    "`success_exit_codes` entries must be exit codes from 0 to 255, found {}",
                    ctx.source_of(value.span())
                ),
                None,
            ),
        }
    }
    codes
}
