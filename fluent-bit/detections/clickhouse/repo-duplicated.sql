-- 219c87b7-63ae-5127-af50-feb501463e48 low Hugging Face repository duplicated
-- A repository was duplicated: its content now exists in another place, possibly outside the
-- organization.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'repo.duplication'
ORDER BY eventTime, eventID
