from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_MCU: _ClassVar[Role]
    ROLE_SOC: _ClassVar[Role]
    ROLE_PHONE: _ClassVar[Role]

class Capability(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAPABILITY_NONE: _ClassVar[Capability]
    CAPABILITY_BUTTONS: _ClassVar[Capability]
    CAPABILITY_IMU_GESTURES: _ClassVar[Capability]
    CAPABILITY_BATTERY: _ClassVar[Capability]
    CAPABILITY_CAMERA_POWER: _ClassVar[Capability]
    CAPABILITY_DISPLAY: _ClassVar[Capability]
    CAPABILITY_MICROPHONE: _ClassVar[Capability]
    CAPABILITY_SPEAKER: _ClassVar[Capability]
    CAPABILITY_BULK_TRANSFER: _ClassVar[Capability]
    CAPABILITY_WAKE_WORD: _ClassVar[Capability]
    CAPABILITY_ASSISTANT: _ClassVar[Capability]
    CAPABILITY_TRANSCRIPTION: _ClassVar[Capability]
    CAPABILITY_TRANSLATION: _ClassVar[Capability]
    CAPABILITY_NOTIFICATIONS: _ClassVar[Capability]
    CAPABILITY_NAVIGATION: _ClassVar[Capability]
    CAPABILITY_ONLINE: _ClassVar[Capability]
    CAPABILITY_MEDIA_CONTROL: _ClassVar[Capability]
    CAPABILITY_PAYMENTS: _ClassVar[Capability]

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CODE_OK: _ClassVar[ErrorCode]
    ERROR_CODE_UNKNOWN_MESSAGE: _ClassVar[ErrorCode]
    ERROR_CODE_BAD_REQUEST: _ClassVar[ErrorCode]
    ERROR_CODE_BUSY: _ClassVar[ErrorCode]
    ERROR_CODE_NO_SUCH_TRANSFER: _ClassVar[ErrorCode]
    ERROR_CODE_OFFSET_MISMATCH: _ClassVar[ErrorCode]
    ERROR_CODE_HASH_MISMATCH: _ClassVar[ErrorCode]
    ERROR_CODE_TOO_LARGE: _ClassVar[ErrorCode]
    ERROR_CODE_NOT_SUPPORTED: _ClassVar[ErrorCode]
    ERROR_CODE_INTERNAL: _ClassVar[ErrorCode]
    ERROR_CODE_DECODE_FAILED: _ClassVar[ErrorCode]

class ButtonId(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUTTON_ID_UNSPECIFIED: _ClassVar[ButtonId]
    BUTTON_ID_MAIN: _ClassVar[ButtonId]
    BUTTON_ID_CAPTURE: _ClassVar[ButtonId]

class ButtonAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUTTON_ACTION_UNSPECIFIED: _ClassVar[ButtonAction]
    BUTTON_ACTION_TAP: _ClassVar[ButtonAction]
    BUTTON_ACTION_DOUBLE_TAP: _ClassVar[ButtonAction]
    BUTTON_ACTION_LONG_PRESS: _ClassVar[ButtonAction]

class Gesture(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GESTURE_UNSPECIFIED: _ClassVar[Gesture]
    GESTURE_NOD: _ClassVar[Gesture]
    GESTURE_SHAKE: _ClassVar[Gesture]

class BatteryLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BATTERY_LEVEL_UNSPECIFIED: _ClassVar[BatteryLevel]
    BATTERY_LEVEL_OK: _ClassVar[BatteryLevel]
    BATTERY_LEVEL_LOW: _ClassVar[BatteryLevel]
    BATTERY_LEVEL_CRITICAL: _ClassVar[BatteryLevel]

class CardKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CARD_KIND_UNSPECIFIED: _ClassVar[CardKind]
    CARD_KIND_TEXT: _ClassVar[CardKind]
    CARD_KIND_ANSWER: _ClassVar[CardKind]
    CARD_KIND_CAPTION: _ClassVar[CardKind]
    CARD_KIND_NOTIFICATION: _ClassVar[CardKind]
    CARD_KIND_NAVIGATION: _ClassVar[CardKind]
    CARD_KIND_PAYMENT: _ClassVar[CardKind]
    CARD_KIND_PAIRING: _ClassVar[CardKind]

class Icon(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ICON_NONE: _ClassVar[Icon]
    ICON_INFO: _ClassVar[Icon]
    ICON_MIC: _ClassVar[Icon]
    ICON_CAMERA: _ClassVar[Icon]
    ICON_ARROW_LEFT: _ClassVar[Icon]
    ICON_ARROW_RIGHT: _ClassVar[Icon]
    ICON_ARROW_UP: _ClassVar[Icon]
    ICON_MESSAGE: _ClassVar[Icon]
    ICON_PAY: _ClassVar[Icon]
    ICON_WARNING: _ClassVar[Icon]
    ICON_BLUETOOTH: _ClassVar[Icon]

class TransferKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFER_KIND_UNSPECIFIED: _ClassVar[TransferKind]
    TRANSFER_KIND_FIRMWARE: _ClassVar[TransferKind]
    TRANSFER_KIND_ASSET: _ClassVar[TransferKind]
    TRANSFER_KIND_PHOTO: _ClassVar[TransferKind]
    TRANSFER_KIND_AUDIO: _ClassVar[TransferKind]
    TRANSFER_KIND_AUDIO_OPUS: _ClassVar[TransferKind]

class TransferState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSFER_STATE_UNSPECIFIED: _ClassVar[TransferState]
    TRANSFER_STATE_RECEIVING: _ClassVar[TransferState]
    TRANSFER_STATE_VERIFIED: _ClassVar[TransferState]
    TRANSFER_STATE_FAILED: _ClassVar[TransferState]
    TRANSFER_STATE_UNKNOWN: _ClassVar[TransferState]

class AssistantTask(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSISTANT_TASK_UNSPECIFIED: _ClassVar[AssistantTask]
    ASSISTANT_TASK_ASK: _ClassVar[AssistantTask]
    ASSISTANT_TASK_DESCRIBE: _ClassVar[AssistantTask]
    ASSISTANT_TASK_READ_TEXT: _ClassVar[AssistantTask]
    ASSISTANT_TASK_TRANSLATE: _ClassVar[AssistantTask]
    ASSISTANT_TASK_TRANSCRIBE: _ClassVar[AssistantTask]

class CaptionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAPTION_KIND_UNSPECIFIED: _ClassVar[CaptionKind]
    CAPTION_KIND_TRANSCRIPTION: _ClassVar[CaptionKind]
    CAPTION_KIND_TRANSLATION: _ClassVar[CaptionKind]

class NotificationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_KIND_UNSPECIFIED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_MESSAGE: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_CALL: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_NAVIGATION: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_PAYMENT: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_OTHER: _ClassVar[NotificationKind]

class AudioCodec(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_CODEC_UNSPECIFIED: _ClassVar[AudioCodec]
    AUDIO_CODEC_PCM16: _ClassVar[AudioCodec]
    AUDIO_CODEC_OPUS: _ClassVar[AudioCodec]

class MediaAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIA_ACTION_UNSPECIFIED: _ClassVar[MediaAction]
    MEDIA_ACTION_PLAY_PAUSE: _ClassVar[MediaAction]
    MEDIA_ACTION_NEXT: _ClassVar[MediaAction]
    MEDIA_ACTION_PREVIOUS: _ClassVar[MediaAction]
    MEDIA_ACTION_VOLUME_UP: _ClassVar[MediaAction]
    MEDIA_ACTION_VOLUME_DOWN: _ClassVar[MediaAction]
    MEDIA_ACTION_ANSWER_CALL: _ClassVar[MediaAction]
    MEDIA_ACTION_END_CALL: _ClassVar[MediaAction]

class Response(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESPONSE_UNSPECIFIED: _ClassVar[Response]
    RESPONSE_CONFIRM: _ClassVar[Response]
    RESPONSE_DISMISS: _ClassVar[Response]
ROLE_UNSPECIFIED: Role
ROLE_MCU: Role
ROLE_SOC: Role
ROLE_PHONE: Role
CAPABILITY_NONE: Capability
CAPABILITY_BUTTONS: Capability
CAPABILITY_IMU_GESTURES: Capability
CAPABILITY_BATTERY: Capability
CAPABILITY_CAMERA_POWER: Capability
CAPABILITY_DISPLAY: Capability
CAPABILITY_MICROPHONE: Capability
CAPABILITY_SPEAKER: Capability
CAPABILITY_BULK_TRANSFER: Capability
CAPABILITY_WAKE_WORD: Capability
CAPABILITY_ASSISTANT: Capability
CAPABILITY_TRANSCRIPTION: Capability
CAPABILITY_TRANSLATION: Capability
CAPABILITY_NOTIFICATIONS: Capability
CAPABILITY_NAVIGATION: Capability
CAPABILITY_ONLINE: Capability
CAPABILITY_MEDIA_CONTROL: Capability
CAPABILITY_PAYMENTS: Capability
ERROR_CODE_OK: ErrorCode
ERROR_CODE_UNKNOWN_MESSAGE: ErrorCode
ERROR_CODE_BAD_REQUEST: ErrorCode
ERROR_CODE_BUSY: ErrorCode
ERROR_CODE_NO_SUCH_TRANSFER: ErrorCode
ERROR_CODE_OFFSET_MISMATCH: ErrorCode
ERROR_CODE_HASH_MISMATCH: ErrorCode
ERROR_CODE_TOO_LARGE: ErrorCode
ERROR_CODE_NOT_SUPPORTED: ErrorCode
ERROR_CODE_INTERNAL: ErrorCode
ERROR_CODE_DECODE_FAILED: ErrorCode
BUTTON_ID_UNSPECIFIED: ButtonId
BUTTON_ID_MAIN: ButtonId
BUTTON_ID_CAPTURE: ButtonId
BUTTON_ACTION_UNSPECIFIED: ButtonAction
BUTTON_ACTION_TAP: ButtonAction
BUTTON_ACTION_DOUBLE_TAP: ButtonAction
BUTTON_ACTION_LONG_PRESS: ButtonAction
GESTURE_UNSPECIFIED: Gesture
GESTURE_NOD: Gesture
GESTURE_SHAKE: Gesture
BATTERY_LEVEL_UNSPECIFIED: BatteryLevel
BATTERY_LEVEL_OK: BatteryLevel
BATTERY_LEVEL_LOW: BatteryLevel
BATTERY_LEVEL_CRITICAL: BatteryLevel
CARD_KIND_UNSPECIFIED: CardKind
CARD_KIND_TEXT: CardKind
CARD_KIND_ANSWER: CardKind
CARD_KIND_CAPTION: CardKind
CARD_KIND_NOTIFICATION: CardKind
CARD_KIND_NAVIGATION: CardKind
CARD_KIND_PAYMENT: CardKind
CARD_KIND_PAIRING: CardKind
ICON_NONE: Icon
ICON_INFO: Icon
ICON_MIC: Icon
ICON_CAMERA: Icon
ICON_ARROW_LEFT: Icon
ICON_ARROW_RIGHT: Icon
ICON_ARROW_UP: Icon
ICON_MESSAGE: Icon
ICON_PAY: Icon
ICON_WARNING: Icon
ICON_BLUETOOTH: Icon
TRANSFER_KIND_UNSPECIFIED: TransferKind
TRANSFER_KIND_FIRMWARE: TransferKind
TRANSFER_KIND_ASSET: TransferKind
TRANSFER_KIND_PHOTO: TransferKind
TRANSFER_KIND_AUDIO: TransferKind
TRANSFER_KIND_AUDIO_OPUS: TransferKind
TRANSFER_STATE_UNSPECIFIED: TransferState
TRANSFER_STATE_RECEIVING: TransferState
TRANSFER_STATE_VERIFIED: TransferState
TRANSFER_STATE_FAILED: TransferState
TRANSFER_STATE_UNKNOWN: TransferState
ASSISTANT_TASK_UNSPECIFIED: AssistantTask
ASSISTANT_TASK_ASK: AssistantTask
ASSISTANT_TASK_DESCRIBE: AssistantTask
ASSISTANT_TASK_READ_TEXT: AssistantTask
ASSISTANT_TASK_TRANSLATE: AssistantTask
ASSISTANT_TASK_TRANSCRIBE: AssistantTask
CAPTION_KIND_UNSPECIFIED: CaptionKind
CAPTION_KIND_TRANSCRIPTION: CaptionKind
CAPTION_KIND_TRANSLATION: CaptionKind
NOTIFICATION_KIND_UNSPECIFIED: NotificationKind
NOTIFICATION_KIND_MESSAGE: NotificationKind
NOTIFICATION_KIND_CALL: NotificationKind
NOTIFICATION_KIND_NAVIGATION: NotificationKind
NOTIFICATION_KIND_PAYMENT: NotificationKind
NOTIFICATION_KIND_OTHER: NotificationKind
AUDIO_CODEC_UNSPECIFIED: AudioCodec
AUDIO_CODEC_PCM16: AudioCodec
AUDIO_CODEC_OPUS: AudioCodec
MEDIA_ACTION_UNSPECIFIED: MediaAction
MEDIA_ACTION_PLAY_PAUSE: MediaAction
MEDIA_ACTION_NEXT: MediaAction
MEDIA_ACTION_PREVIOUS: MediaAction
MEDIA_ACTION_VOLUME_UP: MediaAction
MEDIA_ACTION_VOLUME_DOWN: MediaAction
MEDIA_ACTION_ANSWER_CALL: MediaAction
MEDIA_ACTION_END_CALL: MediaAction
RESPONSE_UNSPECIFIED: Response
RESPONSE_CONFIRM: Response
RESPONSE_DISMISS: Response

class Hello(_message.Message):
    __slots__ = ("protocol_version", "min_protocol_version", "session", "peer_session", "boot_counter", "max_frame", "window", "capabilities", "role", "firmware_version", "reject", "max_message", "link_timeout_ms")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MIN_PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    PEER_SESSION_FIELD_NUMBER: _ClassVar[int]
    BOOT_COUNTER_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    FIRMWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    REJECT_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LINK_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    min_protocol_version: int
    session: int
    peer_session: int
    boot_counter: int
    max_frame: int
    window: int
    capabilities: int
    role: Role
    firmware_version: str
    reject: bool
    max_message: int
    link_timeout_ms: int
    def __init__(self, protocol_version: _Optional[int] = ..., min_protocol_version: _Optional[int] = ..., session: _Optional[int] = ..., peer_session: _Optional[int] = ..., boot_counter: _Optional[int] = ..., max_frame: _Optional[int] = ..., window: _Optional[int] = ..., capabilities: _Optional[int] = ..., role: _Optional[_Union[Role, str]] = ..., firmware_version: _Optional[str] = ..., reject: _Optional[bool] = ..., max_message: _Optional[int] = ..., link_timeout_ms: _Optional[int] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: ErrorCode
    message: str
    def __init__(self, code: _Optional[_Union[ErrorCode, str]] = ..., message: _Optional[str] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Status(_message.Message):
    __slots__ = ("firmware_version", "board", "boot_counter", "uptime_ms", "battery", "buttons_down", "imu", "camera_powered", "capture_led", "mic_streaming", "card_id", "capabilities", "uart_rx_overruns", "link", "failsafe_trips", "ignored_messages", "wake_listening", "wake_detections", "wake_invokes", "wake_late_steps")
    FIRMWARE_VERSION_FIELD_NUMBER: _ClassVar[int]
    BOARD_FIELD_NUMBER: _ClassVar[int]
    BOOT_COUNTER_FIELD_NUMBER: _ClassVar[int]
    UPTIME_MS_FIELD_NUMBER: _ClassVar[int]
    BATTERY_FIELD_NUMBER: _ClassVar[int]
    BUTTONS_DOWN_FIELD_NUMBER: _ClassVar[int]
    IMU_FIELD_NUMBER: _ClassVar[int]
    CAMERA_POWERED_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_LED_FIELD_NUMBER: _ClassVar[int]
    MIC_STREAMING_FIELD_NUMBER: _ClassVar[int]
    CARD_ID_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    UART_RX_OVERRUNS_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    FAILSAFE_TRIPS_FIELD_NUMBER: _ClassVar[int]
    IGNORED_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    WAKE_LISTENING_FIELD_NUMBER: _ClassVar[int]
    WAKE_DETECTIONS_FIELD_NUMBER: _ClassVar[int]
    WAKE_INVOKES_FIELD_NUMBER: _ClassVar[int]
    WAKE_LATE_STEPS_FIELD_NUMBER: _ClassVar[int]
    firmware_version: str
    board: str
    boot_counter: int
    uptime_ms: int
    battery: Battery
    buttons_down: int
    imu: Imu
    camera_powered: bool
    capture_led: bool
    mic_streaming: bool
    card_id: int
    capabilities: int
    uart_rx_overruns: int
    link: LinkCounters
    failsafe_trips: int
    ignored_messages: int
    wake_listening: bool
    wake_detections: int
    wake_invokes: int
    wake_late_steps: int
    def __init__(self, firmware_version: _Optional[str] = ..., board: _Optional[str] = ..., boot_counter: _Optional[int] = ..., uptime_ms: _Optional[int] = ..., battery: _Optional[_Union[Battery, _Mapping]] = ..., buttons_down: _Optional[int] = ..., imu: _Optional[_Union[Imu, _Mapping]] = ..., camera_powered: _Optional[bool] = ..., capture_led: _Optional[bool] = ..., mic_streaming: _Optional[bool] = ..., card_id: _Optional[int] = ..., capabilities: _Optional[int] = ..., uart_rx_overruns: _Optional[int] = ..., link: _Optional[_Union[LinkCounters, _Mapping]] = ..., failsafe_trips: _Optional[int] = ..., ignored_messages: _Optional[int] = ..., wake_listening: _Optional[bool] = ..., wake_detections: _Optional[int] = ..., wake_invokes: _Optional[int] = ..., wake_late_steps: _Optional[int] = ...) -> None: ...

class LinkCounters(_message.Message):
    __slots__ = ("frames_rx", "frames_tx", "retransmits", "crc_errors", "framing_errors", "out_of_window", "rx_oversize", "duplicates", "link_downs", "peer_resets", "rewinds", "frag_size")
    FRAMES_RX_FIELD_NUMBER: _ClassVar[int]
    FRAMES_TX_FIELD_NUMBER: _ClassVar[int]
    RETRANSMITS_FIELD_NUMBER: _ClassVar[int]
    CRC_ERRORS_FIELD_NUMBER: _ClassVar[int]
    FRAMING_ERRORS_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_WINDOW_FIELD_NUMBER: _ClassVar[int]
    RX_OVERSIZE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    LINK_DOWNS_FIELD_NUMBER: _ClassVar[int]
    PEER_RESETS_FIELD_NUMBER: _ClassVar[int]
    REWINDS_FIELD_NUMBER: _ClassVar[int]
    FRAG_SIZE_FIELD_NUMBER: _ClassVar[int]
    frames_rx: int
    frames_tx: int
    retransmits: int
    crc_errors: int
    framing_errors: int
    out_of_window: int
    rx_oversize: int
    duplicates: int
    link_downs: int
    peer_resets: int
    rewinds: int
    frag_size: int
    def __init__(self, frames_rx: _Optional[int] = ..., frames_tx: _Optional[int] = ..., retransmits: _Optional[int] = ..., crc_errors: _Optional[int] = ..., framing_errors: _Optional[int] = ..., out_of_window: _Optional[int] = ..., rx_oversize: _Optional[int] = ..., duplicates: _Optional[int] = ..., link_downs: _Optional[int] = ..., peer_resets: _Optional[int] = ..., rewinds: _Optional[int] = ..., frag_size: _Optional[int] = ...) -> None: ...

class ButtonEvent(_message.Message):
    __slots__ = ("button", "action", "at_ms")
    BUTTON_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    button: ButtonId
    action: ButtonAction
    at_ms: int
    def __init__(self, button: _Optional[_Union[ButtonId, str]] = ..., action: _Optional[_Union[ButtonAction, str]] = ..., at_ms: _Optional[int] = ...) -> None: ...

class GestureEvent(_message.Message):
    __slots__ = ("gesture", "at_ms", "confidence_pct")
    GESTURE_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_PCT_FIELD_NUMBER: _ClassVar[int]
    gesture: Gesture
    at_ms: int
    confidence_pct: int
    def __init__(self, gesture: _Optional[_Union[Gesture, str]] = ..., at_ms: _Optional[int] = ..., confidence_pct: _Optional[int] = ...) -> None: ...

class Imu(_message.Message):
    __slots__ = ("accel_x_mg", "accel_y_mg", "accel_z_mg", "gyro_x_mdps", "gyro_y_mdps", "gyro_z_mdps")
    ACCEL_X_MG_FIELD_NUMBER: _ClassVar[int]
    ACCEL_Y_MG_FIELD_NUMBER: _ClassVar[int]
    ACCEL_Z_MG_FIELD_NUMBER: _ClassVar[int]
    GYRO_X_MDPS_FIELD_NUMBER: _ClassVar[int]
    GYRO_Y_MDPS_FIELD_NUMBER: _ClassVar[int]
    GYRO_Z_MDPS_FIELD_NUMBER: _ClassVar[int]
    accel_x_mg: int
    accel_y_mg: int
    accel_z_mg: int
    gyro_x_mdps: int
    gyro_y_mdps: int
    gyro_z_mdps: int
    def __init__(self, accel_x_mg: _Optional[int] = ..., accel_y_mg: _Optional[int] = ..., accel_z_mg: _Optional[int] = ..., gyro_x_mdps: _Optional[int] = ..., gyro_y_mdps: _Optional[int] = ..., gyro_z_mdps: _Optional[int] = ...) -> None: ...

class Battery(_message.Message):
    __slots__ = ("percent", "millivolts", "charging", "level")
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    MILLIVOLTS_FIELD_NUMBER: _ClassVar[int]
    CHARGING_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    percent: int
    millivolts: int
    charging: bool
    level: BatteryLevel
    def __init__(self, percent: _Optional[int] = ..., millivolts: _Optional[int] = ..., charging: _Optional[bool] = ..., level: _Optional[_Union[BatteryLevel, str]] = ...) -> None: ...

class BatteryEvent(_message.Message):
    __slots__ = ("battery", "at_ms")
    BATTERY_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    battery: Battery
    at_ms: int
    def __init__(self, battery: _Optional[_Union[Battery, _Mapping]] = ..., at_ms: _Optional[int] = ...) -> None: ...

class CameraPower(_message.Message):
    __slots__ = ("on",)
    ON_FIELD_NUMBER: _ClassVar[int]
    on: bool
    def __init__(self, on: _Optional[bool] = ...) -> None: ...

class CameraState(_message.Message):
    __slots__ = ("powered", "capture_led")
    POWERED_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_LED_FIELD_NUMBER: _ClassVar[int]
    powered: bool
    capture_led: bool
    def __init__(self, powered: _Optional[bool] = ..., capture_led: _Optional[bool] = ...) -> None: ...

class MicControl(_message.Message):
    __slots__ = ("stream", "frame_ms")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    FRAME_MS_FIELD_NUMBER: _ClassVar[int]
    stream: bool
    frame_ms: int
    def __init__(self, stream: _Optional[bool] = ..., frame_ms: _Optional[int] = ...) -> None: ...

class WakeWordControl(_message.Message):
    __slots__ = ("listen", "cutoff_permille", "window", "refractory_ms", "lookback_ms", "frame_ms")
    LISTEN_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_PERMILLE_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    REFRACTORY_MS_FIELD_NUMBER: _ClassVar[int]
    LOOKBACK_MS_FIELD_NUMBER: _ClassVar[int]
    FRAME_MS_FIELD_NUMBER: _ClassVar[int]
    listen: bool
    cutoff_permille: int
    window: int
    refractory_ms: int
    lookback_ms: int
    frame_ms: int
    def __init__(self, listen: _Optional[bool] = ..., cutoff_permille: _Optional[int] = ..., window: _Optional[int] = ..., refractory_ms: _Optional[int] = ..., lookback_ms: _Optional[int] = ..., frame_ms: _Optional[int] = ...) -> None: ...

class WakeWordEvent(_message.Message):
    __slots__ = ("stream_id", "lookback_sample", "detected_sample", "probability_permille", "at_ms", "heard_sample")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    LOOKBACK_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    DETECTED_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_PERMILLE_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    HEARD_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    stream_id: int
    lookback_sample: int
    detected_sample: int
    probability_permille: int
    at_ms: int
    heard_sample: int
    def __init__(self, stream_id: _Optional[int] = ..., lookback_sample: _Optional[int] = ..., detected_sample: _Optional[int] = ..., probability_permille: _Optional[int] = ..., at_ms: _Optional[int] = ..., heard_sample: _Optional[int] = ...) -> None: ...

class AudioFrame(_message.Message):
    __slots__ = ("sample_rate", "first_sample", "gap_before", "pcm", "stream_id")
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    FIRST_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    GAP_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PCM_FIELD_NUMBER: _ClassVar[int]
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    sample_rate: int
    first_sample: int
    gap_before: bool
    pcm: bytes
    stream_id: int
    def __init__(self, sample_rate: _Optional[int] = ..., first_sample: _Optional[int] = ..., gap_before: _Optional[bool] = ..., pcm: _Optional[bytes] = ..., stream_id: _Optional[int] = ...) -> None: ...

class DisplayCard(_message.Message):
    __slots__ = ("card_id", "kind", "icon", "title", "text", "ttl_ms")
    CARD_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    card_id: int
    kind: CardKind
    icon: Icon
    title: str
    text: str
    ttl_ms: int
    def __init__(self, card_id: _Optional[int] = ..., kind: _Optional[_Union[CardKind, str]] = ..., icon: _Optional[_Union[Icon, str]] = ..., title: _Optional[str] = ..., text: _Optional[str] = ..., ttl_ms: _Optional[int] = ...) -> None: ...

class DisplayClear(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FailsafeEvent(_message.Message):
    __slots__ = ("link_lost_ms", "camera_was_on", "mic_was_streaming", "at_ms", "down_ms")
    LINK_LOST_MS_FIELD_NUMBER: _ClassVar[int]
    CAMERA_WAS_ON_FIELD_NUMBER: _ClassVar[int]
    MIC_WAS_STREAMING_FIELD_NUMBER: _ClassVar[int]
    AT_MS_FIELD_NUMBER: _ClassVar[int]
    DOWN_MS_FIELD_NUMBER: _ClassVar[int]
    link_lost_ms: int
    camera_was_on: bool
    mic_was_streaming: bool
    at_ms: int
    down_ms: int
    def __init__(self, link_lost_ms: _Optional[int] = ..., camera_was_on: _Optional[bool] = ..., mic_was_streaming: _Optional[bool] = ..., at_ms: _Optional[int] = ..., down_ms: _Optional[int] = ...) -> None: ...

class TransferBegin(_message.Message):
    __slots__ = ("transfer_id", "kind", "size", "sha256", "name")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    transfer_id: int
    kind: TransferKind
    size: int
    sha256: bytes
    name: str
    def __init__(self, transfer_id: _Optional[int] = ..., kind: _Optional[_Union[TransferKind, str]] = ..., size: _Optional[int] = ..., sha256: _Optional[bytes] = ..., name: _Optional[str] = ...) -> None: ...

class TransferChunk(_message.Message):
    __slots__ = ("transfer_id", "offset", "data")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    transfer_id: int
    offset: int
    data: bytes
    def __init__(self, transfer_id: _Optional[int] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class TransferQuery(_message.Message):
    __slots__ = ("transfer_id",)
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    transfer_id: int
    def __init__(self, transfer_id: _Optional[int] = ...) -> None: ...

class TransferStatus(_message.Message):
    __slots__ = ("transfer_id", "state", "offset", "error", "ack_every")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ACK_EVERY_FIELD_NUMBER: _ClassVar[int]
    transfer_id: int
    state: TransferState
    offset: int
    error: ErrorCode
    ack_every: int
    def __init__(self, transfer_id: _Optional[int] = ..., state: _Optional[_Union[TransferState, str]] = ..., offset: _Optional[int] = ..., error: _Optional[_Union[ErrorCode, str]] = ..., ack_every: _Optional[int] = ...) -> None: ...

class ServiceInfo(_message.Message):
    __slots__ = ("protocol_version", "min_protocol_version", "capabilities", "app_version", "max_frame")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    MIN_PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    APP_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_FRAME_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    min_protocol_version: int
    capabilities: int
    app_version: str
    max_frame: int
    def __init__(self, protocol_version: _Optional[int] = ..., min_protocol_version: _Optional[int] = ..., capabilities: _Optional[int] = ..., app_version: _Optional[str] = ..., max_frame: _Optional[int] = ...) -> None: ...

class AssistantRequest(_message.Message):
    __slots__ = ("task", "text", "photo_transfer_id", "audio_transfer_id", "language", "perception", "queued_ms")
    TASK_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PHOTO_TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIO_TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    PERCEPTION_FIELD_NUMBER: _ClassVar[int]
    QUEUED_MS_FIELD_NUMBER: _ClassVar[int]
    task: AssistantTask
    text: str
    photo_transfer_id: int
    audio_transfer_id: int
    language: str
    perception: Perception
    queued_ms: int
    def __init__(self, task: _Optional[_Union[AssistantTask, str]] = ..., text: _Optional[str] = ..., photo_transfer_id: _Optional[int] = ..., audio_transfer_id: _Optional[int] = ..., language: _Optional[str] = ..., perception: _Optional[_Union[Perception, _Mapping]] = ..., queued_ms: _Optional[int] = ...) -> None: ...

class Face(_message.Message):
    __slots__ = ("x", "y", "width", "height", "score", "emotion", "emotion_score")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    EMOTION_SCORE_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    width: float
    height: float
    score: float
    emotion: str
    emotion_score: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., width: _Optional[float] = ..., height: _Optional[float] = ..., score: _Optional[float] = ..., emotion: _Optional[str] = ..., emotion_score: _Optional[float] = ...) -> None: ...

class Perception(_message.Message):
    __slots__ = ("faces", "image_width", "image_height", "emotions_withheld", "summary", "elapsed_us", "faces_blurred")
    FACES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_WIDTH_FIELD_NUMBER: _ClassVar[int]
    IMAGE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    EMOTIONS_WITHHELD_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_US_FIELD_NUMBER: _ClassVar[int]
    FACES_BLURRED_FIELD_NUMBER: _ClassVar[int]
    faces: _containers.RepeatedCompositeFieldContainer[Face]
    image_width: int
    image_height: int
    emotions_withheld: bool
    summary: str
    elapsed_us: int
    faces_blurred: int
    def __init__(self, faces: _Optional[_Iterable[_Union[Face, _Mapping]]] = ..., image_width: _Optional[int] = ..., image_height: _Optional[int] = ..., emotions_withheld: _Optional[bool] = ..., summary: _Optional[str] = ..., elapsed_us: _Optional[int] = ..., faces_blurred: _Optional[int] = ...) -> None: ...

class AssistantAnswer(_message.Message):
    __slots__ = ("text", "final", "source", "offline")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_FIELD_NUMBER: _ClassVar[int]
    text: str
    final: bool
    source: str
    offline: bool
    def __init__(self, text: _Optional[str] = ..., final: _Optional[bool] = ..., source: _Optional[str] = ..., offline: _Optional[bool] = ...) -> None: ...

class Caption(_message.Message):
    __slots__ = ("stream_id", "kind", "text", "final", "language")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    stream_id: int
    kind: CaptionKind
    text: str
    final: bool
    language: str
    def __init__(self, stream_id: _Optional[int] = ..., kind: _Optional[_Union[CaptionKind, str]] = ..., text: _Optional[str] = ..., final: _Optional[bool] = ..., language: _Optional[str] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("notification_id", "kind", "app", "title", "text", "icon", "needs_response", "timeout_ms")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    NEEDS_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    notification_id: int
    kind: NotificationKind
    app: str
    title: str
    text: str
    icon: Icon
    needs_response: bool
    timeout_ms: int
    def __init__(self, notification_id: _Optional[int] = ..., kind: _Optional[_Union[NotificationKind, str]] = ..., app: _Optional[str] = ..., title: _Optional[str] = ..., text: _Optional[str] = ..., icon: _Optional[_Union[Icon, str]] = ..., needs_response: _Optional[bool] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class AudioPacket(_message.Message):
    __slots__ = ("stream_id", "first_sample", "gap_before", "codec", "sample_rate", "frame_samples", "data")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_SAMPLE_FIELD_NUMBER: _ClassVar[int]
    GAP_BEFORE_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    FRAME_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    stream_id: int
    first_sample: int
    gap_before: bool
    codec: AudioCodec
    sample_rate: int
    frame_samples: int
    data: bytes
    def __init__(self, stream_id: _Optional[int] = ..., first_sample: _Optional[int] = ..., gap_before: _Optional[bool] = ..., codec: _Optional[_Union[AudioCodec, str]] = ..., sample_rate: _Optional[int] = ..., frame_samples: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class CaptionControl(_message.Message):
    __slots__ = ("stream_id", "start", "kind", "language", "source_language")
    STREAM_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    stream_id: int
    start: bool
    kind: CaptionKind
    language: str
    source_language: str
    def __init__(self, stream_id: _Optional[int] = ..., start: _Optional[bool] = ..., kind: _Optional[_Union[CaptionKind, str]] = ..., language: _Optional[str] = ..., source_language: _Optional[str] = ...) -> None: ...

class MediaCommand(_message.Message):
    __slots__ = ("action",)
    ACTION_FIELD_NUMBER: _ClassVar[int]
    action: MediaAction
    def __init__(self, action: _Optional[_Union[MediaAction, str]] = ...) -> None: ...

class NotificationResponse(_message.Message):
    __slots__ = ("notification_id", "response")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    notification_id: int
    response: Response
    def __init__(self, notification_id: _Optional[int] = ..., response: _Optional[_Union[Response, str]] = ...) -> None: ...

class TransferData(_message.Message):
    __slots__ = ("transfer_id", "offset", "data")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    transfer_id: int
    offset: int
    data: bytes
    def __init__(self, transfer_id: _Optional[int] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("request_id", "result", "status_request", "status", "button", "gesture", "battery", "camera_power", "camera_state", "mic_control", "mic_audio", "speaker_audio", "card", "display_clear", "transfer_begin", "transfer_chunk", "transfer_query", "transfer_status", "failsafe", "wake_word_control", "wake_word_event", "assistant_request", "assistant_answer", "caption", "notification", "transfer_data", "audio_packet", "caption_control", "media_command", "notification_response")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STATUS_REQUEST_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BUTTON_FIELD_NUMBER: _ClassVar[int]
    GESTURE_FIELD_NUMBER: _ClassVar[int]
    BATTERY_FIELD_NUMBER: _ClassVar[int]
    CAMERA_POWER_FIELD_NUMBER: _ClassVar[int]
    CAMERA_STATE_FIELD_NUMBER: _ClassVar[int]
    MIC_CONTROL_FIELD_NUMBER: _ClassVar[int]
    MIC_AUDIO_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_AUDIO_FIELD_NUMBER: _ClassVar[int]
    CARD_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_CLEAR_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_BEGIN_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_CHUNK_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_QUERY_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_STATUS_FIELD_NUMBER: _ClassVar[int]
    FAILSAFE_FIELD_NUMBER: _ClassVar[int]
    WAKE_WORD_CONTROL_FIELD_NUMBER: _ClassVar[int]
    WAKE_WORD_EVENT_FIELD_NUMBER: _ClassVar[int]
    ASSISTANT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    ASSISTANT_ANSWER_FIELD_NUMBER: _ClassVar[int]
    CAPTION_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_DATA_FIELD_NUMBER: _ClassVar[int]
    AUDIO_PACKET_FIELD_NUMBER: _ClassVar[int]
    CAPTION_CONTROL_FIELD_NUMBER: _ClassVar[int]
    MEDIA_COMMAND_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    result: Result
    status_request: StatusRequest
    status: Status
    button: ButtonEvent
    gesture: GestureEvent
    battery: BatteryEvent
    camera_power: CameraPower
    camera_state: CameraState
    mic_control: MicControl
    mic_audio: AudioFrame
    speaker_audio: AudioFrame
    card: DisplayCard
    display_clear: DisplayClear
    transfer_begin: TransferBegin
    transfer_chunk: TransferChunk
    transfer_query: TransferQuery
    transfer_status: TransferStatus
    failsafe: FailsafeEvent
    wake_word_control: WakeWordControl
    wake_word_event: WakeWordEvent
    assistant_request: AssistantRequest
    assistant_answer: AssistantAnswer
    caption: Caption
    notification: Notification
    transfer_data: TransferData
    audio_packet: AudioPacket
    caption_control: CaptionControl
    media_command: MediaCommand
    notification_response: NotificationResponse
    def __init__(self, request_id: _Optional[int] = ..., result: _Optional[_Union[Result, _Mapping]] = ..., status_request: _Optional[_Union[StatusRequest, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., button: _Optional[_Union[ButtonEvent, _Mapping]] = ..., gesture: _Optional[_Union[GestureEvent, _Mapping]] = ..., battery: _Optional[_Union[BatteryEvent, _Mapping]] = ..., camera_power: _Optional[_Union[CameraPower, _Mapping]] = ..., camera_state: _Optional[_Union[CameraState, _Mapping]] = ..., mic_control: _Optional[_Union[MicControl, _Mapping]] = ..., mic_audio: _Optional[_Union[AudioFrame, _Mapping]] = ..., speaker_audio: _Optional[_Union[AudioFrame, _Mapping]] = ..., card: _Optional[_Union[DisplayCard, _Mapping]] = ..., display_clear: _Optional[_Union[DisplayClear, _Mapping]] = ..., transfer_begin: _Optional[_Union[TransferBegin, _Mapping]] = ..., transfer_chunk: _Optional[_Union[TransferChunk, _Mapping]] = ..., transfer_query: _Optional[_Union[TransferQuery, _Mapping]] = ..., transfer_status: _Optional[_Union[TransferStatus, _Mapping]] = ..., failsafe: _Optional[_Union[FailsafeEvent, _Mapping]] = ..., wake_word_control: _Optional[_Union[WakeWordControl, _Mapping]] = ..., wake_word_event: _Optional[_Union[WakeWordEvent, _Mapping]] = ..., assistant_request: _Optional[_Union[AssistantRequest, _Mapping]] = ..., assistant_answer: _Optional[_Union[AssistantAnswer, _Mapping]] = ..., caption: _Optional[_Union[Caption, _Mapping]] = ..., notification: _Optional[_Union[Notification, _Mapping]] = ..., transfer_data: _Optional[_Union[TransferData, _Mapping]] = ..., audio_packet: _Optional[_Union[AudioPacket, _Mapping]] = ..., caption_control: _Optional[_Union[CaptionControl, _Mapping]] = ..., media_command: _Optional[_Union[MediaCommand, _Mapping]] = ..., notification_response: _Optional[_Union[NotificationResponse, _Mapping]] = ...) -> None: ...
