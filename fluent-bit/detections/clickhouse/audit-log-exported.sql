-- b12b940f-77a1-5496-b727-f7fdfa31c0f0 low Hugging Face audit log exported
-- Someone exported the organization's audit log (hf-audit's own polls do this too: filter on its
-- token).
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName = 'org.audit_log.export'
ORDER BY eventTime, eventID
