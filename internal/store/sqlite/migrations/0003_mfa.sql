-- 0003_mfa: reserved; filled in by the change that introduces it.
SELECT 1;
