-- e6d0a32d-9b54-5796-b980-ba7cf0d7ae4d low Hugging Face subscription or marketplace purchase changed
-- A subscription was started, changed, cancelled or renewed, or a marketplace purchase was approved.
SELECT eventID, eventTime, eventName, authorUser, srcIP, locationCountry, message
FROM huggingface_logs FINAL
WHERE eventName IN ('billing.marketplace_approve', 'billing.start_subscription', 'billing.cancel_subscription', 'billing.un_cancel_subscription', 'billing.renew_subscription', 'billing.update_subscription', 'billing.update_subscription_plan')
ORDER BY eventTime, eventID
