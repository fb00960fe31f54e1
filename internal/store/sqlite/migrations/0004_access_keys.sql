-- 0004_access_keys: reserved; filled in by the change that introduces it.
SELECT 1;
