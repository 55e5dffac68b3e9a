-- 05352095-d0c1-58a3-8a51-1af2b514598f low Hugging Face organization joined without an invitation
-- A user joined the organization automatically or through its verified domain, without an
-- administrator's invitation.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('org.join.automatic', 'org.join.from_domain')
ORDER BY eventTime, eventID
