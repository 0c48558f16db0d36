-- The 待办 and the overdue list read tasks in deadline order (tasks without
-- a deadline last). Indexes in that very order let the database walk them
-- and stop at the page's end instead of sorting every matching task.
DROP INDEX tasks_inbox;
CREATE INDEX tasks_inbox ON tasks (assignee, status, (due_at IS NULL), due_at, created_at, id);
CREATE INDEX tasks_open_due ON tasks (status, due_at, id);
