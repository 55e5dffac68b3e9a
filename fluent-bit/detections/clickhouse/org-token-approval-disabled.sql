-- 03b7b9cf-d1b1-5b9b-bb66-132b649236ea high Hugging Face organization token approval disabled
-- Token approval was switched off: personal access tokens of members reach the organization's
-- resources without an administrator's approval.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.token_approval.disabled'
ORDER BY eventTime, eventID
