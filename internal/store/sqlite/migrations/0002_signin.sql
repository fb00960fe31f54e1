-- 0002_signin: reserved; filled in by the change that introduces it.
SELECT 1;
